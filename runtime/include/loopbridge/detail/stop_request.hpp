#pragma once

#include "loopbridge/events.hpp"

namespace loopbridge::detail {

/// The request behind `runtime::stop_actor`: handled by the event loop itself, answered with the
/// actor's `stopped` event once it stopped.
struct stop_request {
  using reply_type = stopped_event;
};

} // namespace loopbridge::detail
