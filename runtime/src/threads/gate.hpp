#pragma once

// A gate that many threads pass until it closes, and whose closing waits for them.

#include <atomic>
#include <thread>

namespace loopbridge::detail {

/// Lets many threads use a resource until it is closed, and lets `close` wait until every
/// thread that got in has left. `enter`/`leave` are lock-free and never block; `close` waits
/// (yielding) for the threads inside, which only ever stay for a non-blocking send.
///
/// Memory ordering: a thread whose `enter` returned true and a `close` that returned are
/// ordered: the entering thread's work inside happens before `close` returns.
class gate {
public:
  bool enter() noexcept {
    users_.fetch_add(1, std::memory_order_seq_cst);
    if (open_.load(std::memory_order_seq_cst))
      return true;
    users_.fetch_sub(1, std::memory_order_seq_cst);
    return false;
  }
  void leave() noexcept { users_.fetch_sub(1, std::memory_order_seq_cst); }
  void close() noexcept {
    open_.store(false, std::memory_order_seq_cst);
    while (users_.load(std::memory_order_seq_cst) != 0)
      std::this_thread::yield();
  }
  bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }

private:
  std::atomic<bool> open_{true};
  std::atomic<int> users_{0};
};

/// RAII `enter`/`leave`.
class gate_pass {
public:
  explicit gate_pass(gate& g) noexcept : gate_(g), inside_(g.enter()) {}
  ~gate_pass() {
    if (inside_)
      gate_.leave();
  }
  explicit operator bool() const noexcept { return inside_; }

private:
  gate& gate_;
  bool inside_;
};

} // namespace loopbridge::detail
