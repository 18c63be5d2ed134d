#pragma once

// A TCP proxy on 127.0.0.1 (an ephemeral port) in front of a local port, whose forwarding a
// test holds up: the network between two processes, made slow or cut without closing anything.
// Header-only; needs nothing from loopbridge.
//
//     lbtest::stall_proxy cut{node_port};
//     cut.delay_first_reply(1500ms); // each connection's first bytes from the target wait
//     connect_to(cut.port());
//     cut.stall();                   // no byte moves either way; connections stay open
//     cut.resume();                  // everything held moves on, in order
//
// One thread moves the bytes of every connection (poll, non-blocking sockets, a buffer per
// direction). A connection whose one side closes is closed on the other side once what was
// read from it is written.
//
// Threads: construct and destroy on one thread; `stall`, `resume`, `delay_first_reply` and
// `port` from any. The destructor stops the thread (through an eventfd) and closes everything.

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace lbtest {

class stall_proxy {
public:
  explicit stall_proxy(std::uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error(std::string{"stall_proxy: "} + std::strerror(errno));
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }
  ~stall_proxy() {
    stopping_.store(true);
    wake();
    thread_.join();
    for (auto& c : links_) {
      ::close(c->client.fd);
      ::close(c->target.fd);
    }
    ::close(listen_fd_);
    ::close(wake_fd_);
  }
  stall_proxy(const stall_proxy&) = delete;
  stall_proxy& operator=(const stall_proxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// No byte moves either way (and no new connection is taken) until `resume`.
  void stall() {
    stalled_.store(true);
    wake();
  }
  void resume() {
    stalled_.store(false);
    wake();
  }
  /// Each connection made from now on holds the target's first bytes for `d`.
  void delay_first_reply(std::chrono::milliseconds d) {
    delay_ms_.store(d.count());
    wake();
  }

private:
  using clock = std::chrono::steady_clock;

  /// One side of a connection and the bytes read from the other side, still to write to it.
  struct side {
    int fd = -1;
    std::string out;
    bool eof = false; ///< the other side closed: close this one once `out` is written
  };
  struct link {
    side client, target;
    bool replied = false;              ///< the target's first bytes arrived
    clock::time_point hold_until = {}; ///< the target's bytes wait until then
    std::chrono::milliseconds delay{0};
    bool dead = false;
  };

  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  void wake() {
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void accept_all() {
    for (;;) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0)
        return;
      int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = loopback(target_port_);
      if (::connect(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) { // loopback: at once
        ::close(t);
        ::close(c);
        continue;
      }
      ::fcntl(t, F_SETFL, ::fcntl(t, F_GETFL) | O_NONBLOCK);
      auto l = std::make_unique<link>();
      l->client.fd = c;
      l->target.fd = t;
      l->delay = std::chrono::milliseconds{delay_ms_.load()};
      links_.push_back(std::move(l));
    }
  }

  /// Reads what `from` has into `to.out`; false when `from` is closed or failed.
  static bool pump_in(side& from, side& to) {
    char buf[65536];
    for (;;) {
      auto n = ::read(from.fd, buf, sizeof buf);
      if (n > 0) {
        to.out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0)
        return false;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
  }
  /// Writes what waits for `to`; false when it failed.
  static bool pump_out(side& to) {
    while (!to.out.empty()) {
      auto n = ::write(to.fd, to.out.data(), to.out.size());
      if (n > 0) {
        to.out.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
    return true;
  }

  void run() {
    std::vector<pollfd> fds;
    while (!stopping_.load()) {
      bool stalled = stalled_.load();
      auto now = clock::now();
      int timeout = -1;
      fds.clear();
      fds.push_back({wake_fd_, POLLIN, 0});
      fds.push_back({listen_fd_, static_cast<short>(stalled ? 0 : POLLIN), 0});
      for (auto& l : links_) {
        bool holding = l->replied && now < l->hold_until;
        if (holding)
          timeout = static_cast<int>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(l->hold_until - now)
                            .count()) +
                    1;
        short c = 0, t = 0;
        if (!stalled) {
          // Read a side only while the other has nothing waiting: the kernel's buffers hold
          // the rest, so a slow reader slows its writer instead of growing memory here.
          if (l->target.out.empty() && !l->target.eof)
            c |= POLLIN;
          if (l->client.out.empty() && !l->client.eof && !holding)
            t |= POLLIN;
          if (!l->client.out.empty() && !holding)
            c |= POLLOUT;
          if (!l->target.out.empty())
            t |= POLLOUT;
        }
        fds.push_back({l->client.fd, c, 0});
        fds.push_back({l->target.fd, t, 0});
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
        return;
      if (fds[0].revents) {
        std::uint64_t n = 0;
        (void)!::read(wake_fd_, &n, sizeof n);
      }
      if (stalled_.load())
        continue;
      if (fds[1].revents)
        accept_all();
      now = clock::now();
      for (std::size_t i = 0; i < links_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
        auto& l = *links_[i];
        auto& cp = fds[2 + 2 * i];
        auto& tp = fds[2 + 2 * i + 1];
        if ((cp.revents & (POLLIN | POLLHUP | POLLERR)) && !pump_in(l.client, l.target))
          l.target.eof = true;
        if ((tp.revents & (POLLIN | POLLHUP | POLLERR)) && !pump_in(l.target, l.client))
          l.client.eof = true;
        if (!l.replied && !l.client.out.empty()) {
          l.replied = true;
          l.hold_until = now + l.delay;
        }
        bool holding = now < l.hold_until;
        if ((!holding && !pump_out(l.client)) || !pump_out(l.target))
          l.dead = true;
        if ((l.client.eof && l.client.out.empty()) || (l.target.eof && l.target.out.empty()))
          l.dead = true;
      }
      for (auto it = links_.begin(); it != links_.end();) {
        if ((*it)->dead) {
          ::close((*it)->client.fd);
          ::close((*it)->target.fd);
          it = links_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stalled_{false};
  std::atomic<long> delay_ms_{0};
  std::vector<std::unique_ptr<link>> links_; ///< the proxy thread's only
  std::thread thread_;
};

} // namespace lbtest
