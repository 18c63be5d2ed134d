#pragma once

// A lock for critical sections of a few instructions that several threads take at a high rate.

#include <atomic>

#include "loopbridge/detail/spin_policy.hpp"

namespace loopbridge::detail {

/// A test-and-test-and-set lock: a thread that finds it held spins on a read (no cache-line
/// traffic while it waits), stepping with `spin_policy::relax` (the pause hint, then yields of
/// its core), so a holder that was preempted gets to run on a small machine. Meant for critical
/// sections that never block and last well under a microsecond: a waiter never sleeps in the
/// kernel, and the holder never makes a system call to hand it over (a futex-based mutex does
/// both once contended). Satisfies Lockable (usable with `std::lock_guard`). Not recursive,
/// not fair.
class spin_lock {
public:
  void lock() noexcept {
    for (unsigned step = 1; !try_lock(); ++step)
      (void)spin_policy::relax(step);
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
