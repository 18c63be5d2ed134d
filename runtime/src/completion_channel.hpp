#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "mpsc_queue.hpp"

namespace loopbridge::detail {

/// The listener behind a completion queue: requests that complete push their node (lock-free,
/// from whatever thread completes them); the owner pops tokens in completion order. An eventfd
/// is readable while completions wait to be popped, so a host's own event loop can poll it.
///
/// Threads: `notify` from any thread; `add`, `try_pop`, `pop` from one thread at a time.
class completion_channel final : public completion_listener {
public:
  completion_channel();
  ~completion_channel() override;

  /// A node for the next watched request; pass its address as the listener cookie.
  std::uintptr_t add(std::size_t token);
  void notify(std::uintptr_t cookie) noexcept override;

  /// The token of the oldest completion, or -1 when none is waiting.
  std::ptrdiff_t try_pop();
  /// Waits up to `timeout` for a completion (poll() on the eventfd); -1 on timeout.
  std::ptrdiff_t pop(std::chrono::nanoseconds timeout);
  int fd() const noexcept { return efd_; }

private:
  struct node : inbox_node {
    std::size_t token = 0;
  };
  void signal() noexcept;
  void reset_signal() noexcept;

  std::mutex consumer_mutex_;
  std::vector<std::unique_ptr<node>> nodes_;
  mpsc_queue queue_;
  std::atomic<std::size_t> pending_{0};
  int efd_ = -1;
};

} // namespace loopbridge::detail
