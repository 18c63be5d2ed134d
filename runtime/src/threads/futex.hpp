#pragma once

// Futex waits and wakes on an atomic word.

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace loopbridge::detail {

// Thin wrappers over Linux futexes on a std::atomic<uint32_t> (a plain 32-bit word here).
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

inline void futex_wake_all(std::atomic<std::uint32_t>& a) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

/// Sleeps while the word equals `expected`, at most until `deadline` (steady clock; max() waits
/// without one). Returns on a wake, a value change, a signal or the deadline.
inline void futex_wait_until(std::atomic<std::uint32_t>& a, std::uint32_t expected,
                             std::chrono::steady_clock::time_point deadline) noexcept {
  timespec ts{};
  const timespec* abs = nullptr;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    if (ns < 0)
      ns = 0;
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    abs = &ts;
  }
  // CLOCK_MONOTONIC is the clock behind std::chrono::steady_clock on Linux.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&a), FUTEX_WAIT_BITSET_PRIVATE, expected, abs,
          nullptr, FUTEX_BITSET_MATCH_ANY);
}

} // namespace loopbridge::detail
