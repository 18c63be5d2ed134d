// The completion channel behind a completion queue: its eventfd, its nodes and their wake-ups.
#include "bridge/completion_channel.hpp"

#include <cerrno>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <unistd.h>

namespace loopbridge::detail {

completion_channel::completion_channel() : efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (efd_ < 0)
    throw std::runtime_error("eventfd failed");
}

completion_channel::~completion_channel() {
  if (efd_ >= 0)
    close(efd_);
}

std::uintptr_t completion_channel::add(std::size_t token) {
  std::lock_guard<std::mutex> guard{consumer_mutex_};
  node* n = nullptr;
  if (!free_.empty()) {
    n = free_.back();
    free_.pop_back();
  } else {
    if (free_.capacity() < nodes_.size() + 1) // recycling a node later never allocates
      free_.reserve(2 * (nodes_.size() + 1));
    nodes_.push_back(std::make_unique<node>());
    n = nodes_.back().get();
  }
  n->token = token;
  return reinterpret_cast<std::uintptr_t>(n);
}

void completion_channel::forget(std::uintptr_t cookie) {
  std::lock_guard<std::mutex> guard{consumer_mutex_};
  free_.push_back(reinterpret_cast<node*>(cookie));
}

std::size_t completion_channel::nodes_allocated() {
  std::lock_guard<std::mutex> guard{consumer_mutex_};
  return nodes_.size();
}

void completion_channel::notify(std::uintptr_t cookie) noexcept {
  queue_.push(reinterpret_cast<node*>(cookie));
  if (pending_.fetch_add(1, std::memory_order_acq_rel) == 0)
    signal();
}

void completion_channel::signal() noexcept {
  std::uint64_t one = 1;
  ssize_t r;
  do
    r = write(efd_, &one, sizeof(one));
  while (r < 0 && errno == EINTR);
  signals_.fetch_add(1, std::memory_order_acq_rel);
}

void completion_channel::clear_signal() noexcept {
  // Every signal counted here has been written: the read below takes them all.
  signals_cleared_ = signals_.load(std::memory_order_acquire);
  std::uint64_t value;
  ssize_t r;
  do
    r = read(efd_, &value, sizeof(value));
  while (r < 0 && errno == EINTR);
  if (pending_.load(std::memory_order_acquire) > 0)
    signal();
}

std::ptrdiff_t completion_channel::try_pop() {
  std::lock_guard<std::mutex> guard{consumer_mutex_};
  auto* n = static_cast<node*>(queue_.pop());
  if (!n) {
    // A signal sent since the last clear leaves the fd readable with nothing to pop.
    if (signals_.load(std::memory_order_acquire) != signals_cleared_ &&
        pending_.load(std::memory_order_acquire) == 0)
      clear_signal();
    return -1;
  }
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
    clear_signal(); // empty now: the fd's readiness goes, unless a completion raced in
  auto token = static_cast<std::ptrdiff_t>(n->token);
  // The queue let go of `n` (Vyukov's pop returns a node only once its successor is linked),
  // and its request notified once: it is free for the next watch.
  free_.push_back(n);
  return token;
}

std::ptrdiff_t completion_channel::pop(std::chrono::nanoseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto token = try_pop(); token >= 0)
      return token;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0)
      return -1;
    pollfd p{efd_, POLLIN, 0};
    // Round up: never wake before the deadline and spin.
    poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
  }
}

} // namespace loopbridge::detail
