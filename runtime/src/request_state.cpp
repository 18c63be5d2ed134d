#include "loopbridge/detail/request_state.hpp"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/spin_policy.hpp"

namespace loopbridge::detail {

namespace {

// std::atomic<uint32_t> is a plain 32-bit word on Linux: the futex syscall may wait on it.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

std::uint32_t* word(std::atomic<std::uint32_t>& a) {
  return reinterpret_cast<std::uint32_t*>(&a);
}

void futex_wake_all(std::atomic<std::uint32_t>& a) {
  syscall(SYS_futex, word(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Sleeps while the word equals `expected`, at most until `abs_deadline` (CLOCK_MONOTONIC, the
// clock behind std::chrono::steady_clock on Linux); nullptr waits without a deadline.
void futex_wait(std::atomic<std::uint32_t>& a, std::uint32_t expected,
                const timespec* abs_deadline) {
  syscall(SYS_futex, word(a), FUTEX_WAIT_BITSET_PRIVATE, expected, abs_deadline, nullptr,
          FUTEX_BITSET_MATCH_ANY);
}

} // namespace

void request_state::publish() noexcept {
  auto old = flags_.fetch_or(done_bit, std::memory_order_acq_rel);
  if (old & waiter_bit)
    futex_wake_all(flags_);
  if (old & listener_bit)
    listener_->notify(listener_cookie_);
}

void request_state::mark_settled() noexcept {
  auto old = flags_.fetch_or(settled_bit, std::memory_order_acq_rel);
  if (old & waiter_bit)
    futex_wake_all(flags_);
}

void request_state::wait() const noexcept {
  wait_until(time_point::max());
}

namespace {

/// Blocks until `(flags & bit) != 0` or `t` (time_point::max() = no deadline).
bool wait_for_bit(std::atomic<std::uint32_t>& flags, std::uint32_t bit, time_point t) noexcept {
  timespec ts{};
  const timespec* deadline = nullptr;
  if (t != time_point::max()) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    if (ns < 0)
      ns = 0;
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    deadline = &ts;
  }
  for (;;) {
    auto f = flags.load(std::memory_order_acquire);
    if (f & bit)
      return true;
    if (deadline && clock::now() >= t)
      return false;
    if (!(f & request_state::waiter_bit)) {
      flags.fetch_or(request_state::waiter_bit, std::memory_order_acq_rel);
      continue;
    }
    futex_wait(flags, f, deadline);
  }
}

} // namespace

bool request_state::wait_settled_until(time_point t) const noexcept {
  return wait_for_bit(flags_, settled_bit, t);
}

bool request_state::wait_until(time_point t) const noexcept {
  if (auto spin = spin_policy::host(); spin.count() > 0 && spin_policy::try_acquire_host_slot()) {
    auto until = std::min(t, clock::now() + spin);
    bool done = false;
    for (unsigned i = 1;; ++i) {
      if (flags_.load(std::memory_order_acquire) & done_bit) {
        done = true;
        break;
      }
      __builtin_ia32_pause();
      if (i % 64 == 0 && clock::now() >= until)
        break;
    }
    spin_policy::release_host_slot();
    if (done)
      return true;
  }
  return wait_for_bit(flags_, done_bit, t);
}

bool request_state::attach_listener(ref_ptr<completion_listener> l,
                                    std::uintptr_t cookie) noexcept {
  if (flags_.load(std::memory_order_acquire) & listener_bit)
    return false;
  listener_ = std::move(l);
  listener_cookie_ = cookie;
  auto old = flags_.fetch_or(listener_bit, std::memory_order_acq_rel);
  if (old & done_bit)
    listener_->notify(cookie);
  return true;
}

void report_finished(completion_sink& sink, request_ref st) noexcept {
  sink.finished(std::move(st));
}

} // namespace loopbridge::detail
