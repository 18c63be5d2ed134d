#pragma once

// A child process for tests that drive the `loopbridge` command as a user would: its own
// working directory, stdout and stderr captured in files, signals, and waits with deadlines
// (a child that outlives its deadline is killed, so a hang fails the test instead of the suite).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace lbtest {

class child_process {
public:
  /// Starts `program args...` in directory `cwd`; stdout and stderr go to files there.
  child_process(const std::string& program, const std::vector<std::string>& args,
                const std::string& cwd)
      : out_path_(cwd + "/.child.out"),
        err_path_(cwd + "/.child.err") {
    // Everything the child needs is made before the fork: the parent runs threads, and a child
    // of a multithreaded process may only make async-signal-safe calls until it execs (an
    // allocation could wait forever for a lock another parent thread held at the fork, as
    // seen under TSan).
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(cwd.c_str()) != 0)
        ::_exit(127);
      int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }

  /// Waits for the exit up to `timeout`; the exit code (128 + signal if killed by one), or
  /// nullopt if it still runs (it is then killed, so nothing is left behind).
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (status_)
      return exit_code();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = st;
        return exit_code();
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        status_ = st;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  /// True if the process ended by a signal (not by exiting): a handler it should have had.
  bool signalled() const { return status_ && WIFSIGNALED(*status_); }

  /// True while the process exists (not yet reaped).
  bool alive() const { return !status_ && ::kill(pid_, 0) == 0; }

  std::string out() const { return slurp(out_path_); }
  std::string err() const { return slurp(err_path_); }

private:
  int exit_code() const {
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

} // namespace lbtest
