#pragma once

// A real nginx (Debian's /usr/sbin/nginx) serving a directory on 127.0.0.1, for tests and
// benchmarks that need a production HTTP server as the peer. Header-only; needs nothing from
// loopbridge.
//
//     lbtest::nginx_server nginx{root};             // throws nginx_error if it cannot start
//     auto url = nginx.url() + "/small.bin";         // http://127.0.0.1:PORT/small.bin
//     auto counts = nginx.status();                  // server-side connection/request counts
//
// Each server gets a fresh prefix directory (/tmp/loopbridge-nginx-XXXXXX) holding its
// generated nginx.conf, pid file, error log, temp paths and (optionally) an access log; the
// prefix is removed when the server is destroyed. nginx runs in the foreground (`daemon off`)
// as a child process in its own process group, with a master and `workers` worker processes.
// The destructor asks for a graceful stop (SIGQUIT), waits up to `stop_deadline`, then kills
// the whole group (SIGKILL) and reaps the master.
//
// When the master runs as root its workers run as `nobody`: the constructor makes the served
// directory tree readable by them (adds o+rx to directories, o+r to files) and fails with a
// clear message if a parent directory is not traversable.
//
// Threads: construct, use and destroy from one thread; `status()` may be called from any
// thread while the server lives. Blocking: the constructor waits (with a deadline) until the
// port accepts connections; the destructor waits (with a deadline) for nginx to exit.

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace lbtest {

/// nginx is missing, or did not start (the message carries its error log).
class nginx_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct nginx_options {
  std::string binary = "/usr/sbin/nginx";
  int workers = 1;
  /// Write an access log (`$connection $connection_requests $status $body_bytes_sent $uri`
  /// per request) to `access_log_path()`; off by default (it costs throughput).
  bool access_log = false;
  /// Extra directives inside the `server` block.
  std::string server_extra;
  std::chrono::milliseconds start_deadline{10000};
  std::chrono::milliseconds stop_deadline{5000};
};

/// nginx's stub_status counters (the whole server, every worker).
struct nginx_status {
  long active = 0;   ///< open client connections, including the one asking
  long accepts = 0;  ///< connections accepted since start
  long handled = 0;  ///< connections handled (== accepts unless a limit was hit)
  long requests = 0; ///< requests served since start, including this status request
};

class nginx_server {
public:
  explicit nginx_server(std::string root, nginx_options opts = {})
      : root_(std::filesystem::absolute(root).string()),
        opts_(std::move(opts)) {
    if (::access(opts_.binary.c_str(), X_OK) != 0)
      throw nginx_error("nginx not found at " + opts_.binary +
                        " (Debian package nginx-light; scripts/setup installs it)");
    if (!std::filesystem::is_directory(root_))
      throw nginx_error("nginx_server: " + root_ + " is not a directory");
    make_readable(root_);
    // A free port can be taken between probing and nginx's bind: try a few.
    for (int attempt = 0;; ++attempt) {
      make_prefix();
      port_ = free_port();
      write_config();
      try {
        spawn_and_wait();
        return;
      } catch (const nginx_error& e) {
        bool port_taken = std::string{e.what()}.find("Address already in use") != std::string::npos;
        stop();
        remove_prefix();
        if (!port_taken || attempt == 4)
          throw;
      }
    }
  }

  ~nginx_server() {
    stop();
    remove_prefix();
  }

  nginx_server(const nginx_server&) = delete;
  nginx_server& operator=(const nginx_server&) = delete;

  int port() const noexcept { return port_; }
  /// The master process (its workers are its children).
  pid_t pid() const noexcept { return pid_; }
  /// `http://127.0.0.1:PORT` (no trailing slash).
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& prefix() const noexcept { return prefix_; }
  const std::string& root() const noexcept { return root_; }
  std::string access_log_path() const { return prefix_ + "/access.log"; }
  std::string error_log() const { return read_file(prefix_ + "/error.log"); }

  /// The server's stub_status counters, read over a new connection (so `accepts` and
  /// `requests` include this call's own connection and request).
  nginx_status status() const {
    auto text = http_get("/nginx_status");
    nginx_status s;
    auto body = text.find("\r\n\r\n");
    if (text.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos ||
        std::sscanf(text.c_str() + body + 4,
                    "Active connections: %ld server accepts handled requests %ld %ld %ld",
                    &s.active, &s.accepts, &s.handled, &s.requests) != 4)
      throw nginx_error("nginx stub_status: unexpected answer: " + text);
    return s;
  }

private:
  /// A one-shot HTTP/1.0 GET on a fresh connection; returns the whole raw answer.
  std::string http_get(const std::string& path) const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      throw nginx_error(std::string{"socket: "} + std::strerror(errno));
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = loopback(port_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      throw nginx_error("cannot connect to nginx on port " + std::to_string(port_));
    }
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!::write(fd, req.data(), req.size());
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
  }

  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto a = loopback(0);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0)
        ::close(fd);
      throw nginx_error(std::string{"no free loopback port: "} + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(a.sin_port);
  }

  static std::string read_file(const std::string& path) {
    std::ifstream in{path};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  /// Workers (user nobody when the master is root) must read the tree and reach it.
  static void make_readable(const std::string& root) {
    namespace fs = std::filesystem;
    auto add = [](const fs::path& p, fs::perms extra) {
      std::error_code ec;
      fs::permissions(p, extra, fs::perm_options::add, ec);
    };
    add(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                  fs::perms::others_read | fs::perms::others_exec);
    for (auto& e : fs::recursive_directory_iterator(root)) {
      if (e.is_directory())
        add(e.path(), fs::perms::others_read | fs::perms::others_exec | fs::perms::group_read |
                          fs::perms::group_exec);
      else
        add(e.path(), fs::perms::others_read | fs::perms::group_read);
    }
    if (::geteuid() != 0)
      return;
    for (auto p = fs::path(root).parent_path(); !p.empty(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        throw nginx_error("nginx_server: workers run as nobody and cannot traverse " + p.string() +
                          " (mode " + std::to_string(st.st_mode & 0777) +
                          "); serve a directory whose parents are world-traversable");
      if (p == p.root_path())
        break;
    }
  }

  void make_prefix() {
    char tmpl[] = "/tmp/loopbridge-nginx-XXXXXX";
    if (!::mkdtemp(tmpl))
      throw nginx_error(std::string{"mkdtemp: "} + std::strerror(errno));
    prefix_ = tmpl;
    ::chmod(prefix_.c_str(), 0755); // workers create files in the temp paths inside it
  }

  void remove_prefix() {
    if (prefix_.empty())
      return;
    std::error_code ec;
    std::filesystem::remove_all(prefix_, ec);
    prefix_.clear();
  }

  void write_config() const {
    auto p = prefix_;
    std::ofstream conf{p + "/nginx.conf"};
    conf << "daemon off;\n"
         << "master_process on;\n"
         << "worker_processes " << opts_.workers << ";\n"
         << "pid " << p << "/nginx.pid;\n"
         << "lock_file " << p << "/nginx.lock;\n"
         << "error_log " << p << "/error.log warn;\n"
         << "events { worker_connections 4096; }\n"
         << "http {\n"
         << "  default_type application/octet-stream;\n"
         << "  sendfile on;\n"
         << "  tcp_nopush on;\n"
         << "  keepalive_requests 1000000;\n"
         << "  keepalive_timeout 120s;\n"
         << "  open_file_cache max=1000 inactive=60s;\n"
         << "  client_body_temp_path " << p << "/client_body;\n"
         << "  proxy_temp_path " << p << "/proxy;\n"
         << "  fastcgi_temp_path " << p << "/fastcgi;\n"
         << "  uwsgi_temp_path " << p << "/uwsgi;\n"
         << "  scgi_temp_path " << p << "/scgi;\n";
    if (opts_.access_log)
      conf << "  log_format conn '$connection $connection_requests $status $body_bytes_sent "
              "$uri';\n"
           << "  access_log " << p << "/access.log conn;\n";
    else
      conf << "  access_log off;\n";
    conf << "  server {\n"
         << "    listen 127.0.0.1:" << port_ << ";\n"
         << "    server_name localhost;\n"
         << "    root " << root_ << ";\n"
         << "    location / { }\n"
         << "    location = /nginx_status { stub_status; }\n"
         << opts_.server_extra << "\n"
         << "  }\n"
         << "}\n";
    if (!conf)
      throw nginx_error("cannot write " + p + "/nginx.conf");
  }

  void spawn_and_wait() {
    auto conf = prefix_ + "/nginx.conf";
    auto err = prefix_ + "/error.log";
    auto out = prefix_ + "/stderr.log";
    std::vector<std::string> args{opts_.binary, "-p", prefix_ + "/", "-c", conf, "-e", err};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&attr);
    // Its own process group, so a forced stop reaches the workers too; default signal
    // dispositions and an empty mask whatever the calling thread has.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    int rc = ::posix_spawn(&pid_, opts_.binary.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      pid_ = -1;
      throw nginx_error("cannot start " + opts_.binary + ": " + std::strerror(rc));
    }
    auto deadline = std::chrono::steady_clock::now() + opts_.start_deadline;
    for (;;) {
      if (accepts_connection())
        return;
      // The listening socket appears once the master has parsed its config; meanwhile watch
      // for it exiting (2 ms steps until the deadline).
      int status = 0;
      auto step =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(2));
      if (wait_exit(step, &status)) {
        pid_ = -1;
        throw nginx_error("nginx exited at start (" + describe(status) + "):\n" + logs());
      }
      if (std::chrono::steady_clock::now() >= deadline)
        throw nginx_error("nginx did not accept connections on 127.0.0.1:" + std::to_string(port_) +
                          " within " + std::to_string(opts_.start_deadline.count()) + " ms:\n" +
                          logs());
    }
  }

  bool accepts_connection() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return false;
    auto a = loopback(port_);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  std::string logs() const {
    return read_file(prefix_ + "/error.log") + read_file(prefix_ + "/stderr.log");
  }

  static std::string describe(int status) {
    if (WIFEXITED(status))
      return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

  /// Waits until the master exits or `deadline` passes (on its pidfd: no polling); reaps it
  /// and returns true if it exited.
  bool wait_exit(std::chrono::steady_clock::time_point deadline, int* status) {
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    for (;;) {
      auto r = ::waitpid(pid_, status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        if (pfd >= 0)
          ::close(pfd);
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        if (pfd >= 0)
          ::close(pfd);
        return false;
      }
      if (pfd >= 0) {
        pollfd p{pfd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }

  /// SIGQUIT (graceful: the master exits after its workers), then SIGKILL to the whole group.
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGQUIT);
    int status = 0;
    if (!wait_exit(std::chrono::steady_clock::now() + opts_.stop_deadline, &status)) {
      ::kill(-pid_, SIGKILL); // the master and its workers (own process group)
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::string root_;
  nginx_options opts_;
  std::string prefix_;
  int port_ = 0;
  pid_t pid_ = -1;
};

} // namespace lbtest
