#pragma once

// A raw TCP server on 127.0.0.1 (an ephemeral port) for tests that need a peer which breaks
// HTTP in an exact way: it answers every connection with the same bytes (until `set_answer`
// changes them), or holds every connection open without a word (a black hole). Header-only; needs
// nothing from loopbridge.
//
//     lbtest::raw_server bad{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"}; // then closes
//     fetch(bad.url() + "/x");                     // http://127.0.0.1:PORT/x
//     lbtest::raw_server hole{lbtest::raw_server::black_hole};
//     hole.peak_open();                            // most connections it held at once
//
// One thread serves every connection, in turn: it reads the request head (up to the blank line
// that ends it, 5 s at most), writes the answer and closes the connection (the peer reads EOF
// after the answer, not a reset). A black hole accepts and keeps connections until the peer
// closes them or the server is destroyed.
//
// Threads: construct and destroy on one thread; the accessors from any. The destructor stops
// the thread (through an eventfd) and closes every connection.

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
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

class raw_server {
public:
  struct black_hole_t {};
  static constexpr black_hole_t black_hole{};

  /// Answers every connection with `answer`, then closes it.
  explicit raw_server(std::string answer) {
    answer_ = std::move(answer);
    start();
  }
  /// Accepts connections and never answers.
  explicit raw_server(black_hole_t) : hold_(true) { start(); }

  ~raw_server() {
    std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    for (int fd : held_)
      ::close(fd);
    ::close(listen_fd_);
    ::close(stop_fd_);
  }
  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;

  int port() const noexcept { return port_; }
  /// `http://127.0.0.1:PORT` (no trailing slash).
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Connections accepted so far.
  std::size_t accepted() const noexcept { return accepted_.load(); }
  /// The most connections a black hole held open at once.
  std::size_t peak_open() const noexcept { return peak_open_.load(); }
  /// The head of the latest request read (an answering server only).
  std::string last_request() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return last_request_;
  }
  /// What it answers the connections it accepts from now on (an answering server only).
  void set_answer(std::string answer) {
    std::lock_guard<std::mutex> guard{mutex_};
    answer_ = std::move(answer);
  }

private:
  void start() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int on = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (listen_fd_ < 0 || stop_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 1024) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error(std::string{"raw_server: "} + std::strerror(errno));
    port_ = ntohs(a.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  /// Waits until `fd` has `events` or the server stops; false on stop or after `timeout`.
  bool wait_for(int fd, short events, std::chrono::milliseconds timeout) const {
    pollfd p[2] = {{fd, events, 0}, {stop_fd_, POLLIN, 0}};
    return ::poll(p, 2, static_cast<int>(timeout.count())) > 0 && p[1].revents == 0 &&
           p[0].revents != 0;
  }

  void serve() {
    for (;;) {
      std::vector<pollfd> fds{{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (int fd : held_)
        fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
        return;
      if (fds[0].revents != 0)
        return;
      for (std::size_t i = 2; i < fds.size(); ++i)
        if (fds[i].revents != 0 && closed_by_peer(fds[i].fd)) {
          ::close(fds[i].fd);
          held_.erase(std::find(held_.begin(), held_.end(), fds[i].fd));
        }
      if (fds[1].revents == 0)
        continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      ++accepted_;
      if (hold_) {
        held_.push_back(c);
        if (held_.size() > peak_open_)
          peak_open_ = held_.size();
      } else {
        answer(c);
      }
    }
  }

  /// Reads (and drops) what a held connection's peer sent; true once it closed.
  static bool closed_by_peer(int fd) {
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return true;
      if (n < 0)
        return false;
    }
  }

  void answer(int c) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && wait_for(c, POLLIN, kWait)) {
      auto n = ::read(c, buf, sizeof buf);
      if (n <= 0)
        break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    std::string answer;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      last_request_ = head;
      answer = answer_;
    }
    for (std::size_t sent = 0; sent < answer.size() && wait_for(c, POLLOUT, kWait);) {
      auto n = ::send(c, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(c, SHUT_WR); // the peer reads EOF after the answer
    // Whatever else it sent already is read, so that closing sends no reset (which could
    // overtake the answer); what it sends later finds the connection closed.
    while (::recv(c, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    ::close(c);
  }

  static constexpr std::chrono::milliseconds kWait{5000};

  bool hold_ = false;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::vector<int> held_; ///< serving thread only (then the destructor)
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> peak_open_{0};
  mutable std::mutex mutex_;
  std::string answer_; ///< guarded by mutex_
  std::string last_request_;
  std::thread thread_;
};

} // namespace lbtest
