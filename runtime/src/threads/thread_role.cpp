// What the current thread is (scheduler, dedicated instance) and what it may block on.
#include "loopbridge/detail/bridge.hpp"

#include "loopbridge/detail/actor_record.hpp"

namespace loopbridge::detail {

namespace {
thread_local bool tl_scheduler_thread = false;
thread_local time_point tl_request_deadline = time_point::max();
/// The actor whose dedicated instance runs on this thread, if any.
thread_local const actor_record* tl_dedicated = nullptr;
} // namespace

time_point current_request_deadline() noexcept {
  return tl_request_deadline;
}

request_deadline_scope::request_deadline_scope(time_point deadline) noexcept
    : previous_(tl_request_deadline) {
  tl_request_deadline = deadline;
}

request_deadline_scope::~request_deadline_scope() {
  tl_request_deadline = previous_;
}

/// Called by the runtime's scheduler threads and its loop thread as they start.
void mark_scheduler_thread() noexcept {
  tl_scheduler_thread = true;
}

bool blocking_forbidden() noexcept {
  return tl_scheduler_thread;
}

} // namespace loopbridge::detail

namespace loopbridge::detail {

/// Called by a dedicated instance's thread as it starts.
void enter_dedicated_instance(const actor_record* rec) noexcept {
  tl_dedicated = rec;
}

blocking_wait::blocking_wait(const actor_record* target, const char* what) noexcept {
  if (tl_scheduler_thread) {
    refused_ = true;
    error_ = error{errc::would_deadlock,
                   std::string{what} + " on a runtime scheduler thread would stall the runtime "
                                       "(submit from a host thread or a blocking pool)"};
    return;
  }
  if (!target || target != tl_dedicated)
    return;
  auto waiting = target->self_waits.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (waiting >= target->spec.count) {
    target->self_waits.fetch_sub(1, std::memory_order_acq_rel);
    refused_ = true;
    error_ = error{errc::would_deadlock, std::string{what} + " from a handler of " +
                                             target->spec.name + " waits on " + target->spec.name +
                                             " itself, and no other instance of it "
                                             "is left to serve the request (count " +
                                             std::to_string(target->spec.count) + ")"};
    return;
  }
  counted_ = target;
}

blocking_wait::~blocking_wait() {
  if (counted_)
    counted_->self_waits.fetch_sub(1, std::memory_order_acq_rel);
}

} // namespace loopbridge::detail
