#include "loopbridge/detail/bridge.hpp"

namespace loopbridge::detail {

namespace {
thread_local bool tl_scheduler_thread = false;
} // namespace

/// Called by the runtime's CAF thread hook on every thread CAF starts.
void mark_scheduler_thread() noexcept {
  tl_scheduler_thread = true;
}

bool blocking_forbidden() noexcept {
  return tl_scheduler_thread;
}

} // namespace loopbridge::detail
