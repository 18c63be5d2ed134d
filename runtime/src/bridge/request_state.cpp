// The shared state of one request: publishing its outcome and waiting for it.
#include "loopbridge/detail/request_state.hpp"

#include "bridge/round_trip.hpp"
#include "events/publish_batch.hpp"
#include "threads/futex.hpp"

#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/spin_policy.hpp"

namespace loopbridge::detail {

namespace {

void futex_wait(std::atomic<std::uint32_t>& a, std::uint32_t expected, time_point deadline) {
  futex_wait_until(a, expected, deadline);
}

} // namespace

void request_state::publish() noexcept {
  publish_batch::flush(); // the events before it reach their inboxes first
  auto old = flags_.fetch_or(resolved_bit, std::memory_order_acq_rel);
  if (old & waiter_bit)
    futex_wake_all(flags_);
  if (old & listener_bit)
    listener_->notify(listener_cookie_);
}

void request_state::mark_settled() noexcept {
  publish_batch::flush();
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
  for (;;) {
    auto f = flags.load(std::memory_order_acquire);
    if (f & bit)
      return true;
    if (t != time_point::max() && clock::now() >= t)
      return false;
    if (!(f & request_state::waiter_bit)) {
      flags.fetch_or(request_state::waiter_bit, std::memory_order_acq_rel);
      continue;
    }
    futex_wait(flags, f, t);
  }
}

} // namespace

bool request_state::wait_settled_until(time_point t) const noexcept {
  return wait_for_bit(flags_, settled_bit, t);
}

bool& round_trip_next() noexcept {
  thread_local bool next = true;
  return next;
}

bool request_state::wait_until(time_point t) const noexcept {
  if (!(flags_.load(std::memory_order_acquire) & resolved_bit))
    round_trip_next() = true;
  if (auto spin = spin_policy::host(); spin.count() > 0 && spin_policy::try_acquire_host_slot()) {
    bool done = spin_policy::spin_until(std::min(t, clock::now() + spin), [this] {
      return (flags_.load(std::memory_order_acquire) & resolved_bit) != 0;
    });
    spin_policy::release_host_slot();
    if (done)
      return true;
  }
  return wait_for_bit(flags_, resolved_bit, t);
}

bool request_state::attach_listener(ref_ptr<completion_listener> l,
                                    std::uintptr_t cookie) noexcept {
  if (flags_.load(std::memory_order_acquire) & listener_bit)
    return false;
  listener_ = std::move(l);
  listener_cookie_ = cookie;
  auto old = flags_.fetch_or(listener_bit, std::memory_order_acq_rel);
  if (old & resolved_bit)
    listener_->notify(cookie);
  return true;
}

void report_done(completion_sink& sink, request_ref st) noexcept {
  sink.done(std::move(st));
}

} // namespace loopbridge::detail
