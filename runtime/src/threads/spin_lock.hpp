#pragma once

// A lock for critical sections of a few instructions that several threads take at a high rate.

#include <atomic>

#include <sched.h>

namespace loopbridge::detail {

/// A test-and-test-and-set lock: a thread that finds it held spins on a read (no cache-line
/// traffic while it waits), with a pause per step, and yields its core after a few steps, so a
/// holder that was preempted gets to run on a small machine. Meant for critical sections that
/// never block and last well under a microsecond: a waiter never sleeps in the kernel, and the
/// holder never makes a system call to hand it over (a futex-based mutex does both once
/// contended). Satisfies Lockable (usable with `std::lock_guard`). Not recursive, not fair.
class spin_lock {
public:
  void lock() noexcept {
    for (unsigned step = 0;; ++step) {
      if (!held_.load(std::memory_order_relaxed) &&
          !held_.exchange(true, std::memory_order_acquire))
        return;
      if (step < 32)
        __builtin_ia32_pause();
      else
        sched_yield();
    }
  }
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) &&
           !held_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

private:
  std::atomic<bool> held_{false};
};

} // namespace loopbridge::detail
