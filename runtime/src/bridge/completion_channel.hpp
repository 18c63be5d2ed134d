#pragma once

// The listener behind a completion queue, which completing requests notify from any thread.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "loop/mpsc_queue.hpp"

namespace loopbridge::detail {

/// The listener behind a completion queue: requests that complete push their node (lock-free,
/// from whatever thread completes them); the owner pops tokens in completion order. An eventfd
/// is readable while completions wait to be popped, so a host's own event loop can poll it.
///
/// Readiness can be stale: a signal sent just as the owner popped the last node leaves the fd
/// readable with nothing to pop. The next `try_pop` that finds nothing clears it (one read, only
/// when a signal landed since the last clear), so it costs at most one spurious wake-up.
///
/// Nodes are recycled: a popped node (its request completed and reported, the queue holds no
/// pointer to it any more) serves the next `add`, so a long-lived queue keeps as many nodes as
/// were ever watched and not yet popped at once, not one per request it ever watched.
///
/// Threads: `notify` from any thread; `add`, `forget`, `try_pop`, `pop` from one thread at a
/// time.
class completion_channel final : public completion_listener {
public:
  completion_channel();
  ~completion_channel() override;

  /// A node for the next watched request; pass its address as the listener cookie.
  std::uintptr_t add(std::size_t token);
  /// Takes back a node from `add` whose request was not watched after all (never notified).
  void forget(std::uintptr_t cookie);
  /// Nodes allocated so far (popped ones are reused): for tests.
  std::size_t nodes_allocated();
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
  /// Empties the eventfd (under the consumer mutex), then signals again if a completion raced in.
  void clear_signal() noexcept;

  std::mutex consumer_mutex_;
  std::vector<std::unique_ptr<node>> nodes_; ///< every node, for their release
  std::vector<node*> free_;                  ///< nodes neither watched nor queued
  mpsc_queue queue_;
  std::atomic<std::size_t> pending_{0};
  /// Signals sent so far, and how many of them the consumer's last clear covered.
  std::atomic<std::uint64_t> signals_{0};
  std::uint64_t signals_cleared_ = 0;
  int efd_ = -1;
};

} // namespace loopbridge::detail
