#include "loopbridge/detail/bridge.hpp"

namespace loopbridge::detail {

namespace {
thread_local bool tl_scheduler_thread = false;
thread_local time_point tl_request_deadline = time_point::max();
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

/// Called by the runtime's CAF thread hook on every thread CAF starts.
void mark_scheduler_thread() noexcept {
  tl_scheduler_thread = true;
}

bool blocking_forbidden() noexcept {
  return tl_scheduler_thread;
}

} // namespace loopbridge::detail
