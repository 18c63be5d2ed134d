// The node processes of a scenario: spawned with their output collected, stopped with a signal.
#include "scenario_nodes.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

extern char** environ;

namespace loopbridge::testing::detail {

namespace {

/// A port nothing listens on now (the system's choice for port 0, released again).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::uint16_t port = 0;
  socklen_t len = sizeof a;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    ::close(fd);
  return port;
}

} // namespace

/// One node process: its pid, and everything it wrote (stdout and stderr), read by a thread of
/// its own until the process closes them.
class scenario_nodes::process {
public:
  process(const std::string& name, std::vector<std::string> argv) : name_(name) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
    }
    reader_ = std::thread([this, fd = fds[0]] { read_all(fd); });
  }
  ~process() {
    if (!reaped_)
      end(std::chrono::milliseconds(0));
  }

  const std::string& name() const noexcept { return name_; }

  /// Waits until the output holds `line` (true), the process closed it, or `until` passed.
  bool wait_for(const std::string& line, std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> guard{mutex_};
    return changed_.wait_until(guard, until, [&] {
      return out_.find(line) != std::string::npos || closed_;
    }) && out_.find(line) != std::string::npos;
  }
  std::string output() {
    std::lock_guard<std::mutex> guard{mutex_};
    return out_;
  }

  /// SIGTERM, then SIGKILL after `grace`; reaps the process.
  void end(std::chrono::milliseconds grace) {
    if (reaped_)
      return;
    ::kill(pid_, SIGTERM);
    {
      std::unique_lock<std::mutex> guard{mutex_};
      if (!changed_.wait_for(guard, grace, [&] { return closed_; }))
        ::kill(pid_, SIGKILL);
    }
    reader_.join();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

private:
  void read_all(int fd) {
    char buf[4096];
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      std::lock_guard<std::mutex> guard{mutex_};
      if (n <= 0) {
        closed_ = true;
        changed_.notify_all();
        break;
      }
      out_.append(buf, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
    ::close(fd);
  }

  std::string name_;
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  bool closed_ = false;
  bool reaped_ = false;
};

scenario_nodes::scenario_nodes() = default;

scenario_nodes::~scenario_nodes() {
  stop();
}

result<void> scenario_nodes::start(topology& topo, const std::string& file,
                                   const std::string& program, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (auto& node : topo.nodes) {
    if (!node.on_loopback())
      continue; // on another machine: it runs on its own
    if (program.empty())
      return error{errc::bad_request,
                   "the topology places actors on node " + node.name + " (" + node.address() +
                       "): the scenario runner starts such a node with a program built with "
                       "loopbridge::cli::main and the same kinds (run_options::node_program; "
                       "`loopbridge scenario` uses its own)"};
    auto port = free_port();
    if (port == 0)
      return error{errc::start_failed, "node " + node.name + ": no free port on loopback"};
    std::unique_ptr<process> p;
    try {
      p = std::make_unique<process>(node.name,
                                    std::vector<std::string>{program, "node", "--node", node.name,
                                                             "--port", std::to_string(port), file});
    } catch (const std::exception& e) {
      return error{errc::start_failed, "node " + node.name + ": " + e.what()};
    }
    auto serving = "node " + node.name + " serving ";
    bool up = p->wait_for(serving, until);
    auto said = p->output();
    running_.push_back(std::move(p));
    if (!up)
      return error{errc::start_failed, "node " + node.name + " (" + program +
                                           " node) did not serve within " +
                                           std::to_string(timeout.count()) +
                                           " ms; it printed: " + (said.empty() ? "nothing" : said)};
    node.port = port;
  }
  return {};
}

void scenario_nodes::stop(std::chrono::milliseconds grace) {
  for (auto& p : running_)
    p->end(grace);
  running_.clear();
}

} // namespace loopbridge::testing::detail
