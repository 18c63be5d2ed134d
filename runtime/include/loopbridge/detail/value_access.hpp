#pragma once

// The runtime's requests by name and value fields. Tools call them through
// loopbridge/tools/value_requests.hpp, not from here.

#include <chrono>
#include <string_view>

#include "loopbridge/value.hpp"
#include "loopbridge/value_future.hpp"

namespace loopbridge {
class runtime;
} // namespace loopbridge

namespace loopbridge::detail {

/// What `loopbridge::tools::submit_value` and `submit_pipeline_value` call (see there for the
/// contract): the untyped request path kept off the runtime's public facade. Any host thread.
struct value_access {
  static value_future submit_value(runtime& rt, std::string_view actor, std::string_view request,
                                   const value& fields, std::chrono::nanoseconds timeout);
  static value_future submit_pipeline_value(runtime& rt, std::string_view entry,
                                            std::string_view request, const value& fields,
                                            std::chrono::nanoseconds timeout);
};

} // namespace loopbridge::detail
