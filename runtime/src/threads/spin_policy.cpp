// How long loop and host threads spin before they block.
#include "loopbridge/detail/spin_policy.hpp"

#include <sched.h>

namespace loopbridge::detail {

namespace {
std::atomic<std::int64_t> loop_spin_ns{0};
std::atomic<std::int64_t> host_spin_ns{0};
std::atomic<bool> host_slot_taken{false};
} // namespace

std::chrono::nanoseconds spin_policy::loop() noexcept {
  return std::chrono::nanoseconds{loop_spin_ns.load(std::memory_order_relaxed)};
}

std::chrono::nanoseconds spin_policy::host() noexcept {
  return std::chrono::nanoseconds{host_spin_ns.load(std::memory_order_relaxed)};
}

void spin_policy::set(std::chrono::nanoseconds loop, std::chrono::nanoseconds host) noexcept {
  loop_spin_ns.store(loop.count(), std::memory_order_relaxed);
  host_spin_ns.store(host.count(), std::memory_order_relaxed);
}

namespace {
/// Until when the calling thread parks at once instead of spinning (steady clock, ns).
thread_local std::int64_t tl_backoff_until = 0;
/// How long the calling thread's last lost yield took (ns).
thread_local std::int64_t tl_lost = 0;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

bool spin_policy::relax(unsigned step) noexcept {
  constexpr unsigned pause_steps = 64;
  if (step <= pause_steps) {
    __builtin_ia32_pause();
    return true;
  }
  auto before = now_ns();
  sched_yield();
  auto took = now_ns() - before;
  if (took < std::chrono::nanoseconds{yield_lost}.count())
    return true;
  tl_lost = took;
  return false;
}

bool spin_policy::backing_off() noexcept {
  return tl_backoff_until != 0 && now_ns() < tl_backoff_until;
}

void spin_policy::back_off() noexcept {
  tl_backoff_until = now_ns() + backoff_for(std::chrono::nanoseconds{tl_lost}).count();
}

bool spin_policy::try_acquire_host_slot() noexcept {
  return !host_slot_taken.load(std::memory_order_relaxed) &&
         !host_slot_taken.exchange(true, std::memory_order_acquire);
}

void spin_policy::release_host_slot() noexcept {
  host_slot_taken.store(false, std::memory_order_release);
}

} // namespace loopbridge::detail
