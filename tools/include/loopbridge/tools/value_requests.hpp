#pragma once

#include <chrono>
#include <string_view>

#include "loopbridge/detail/value_access.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/value.hpp"
#include "loopbridge/value_future.hpp"

/// Requests by name, with their fields as a value: what scenario files, workloads and the
/// command line send, where the request type is known only at run time. Host code that knows
/// its types uses `actor_handle::submit`, which checks them at compile time.
namespace loopbridge::tools {

/// Submits the request named `request` (its YAML name, e.g. `echo`, or its type name) to the
/// actor `actor`, with its fields from `fields` (a map, checked against the request type:
/// unknown fields get a did-you-mean). Problems resolve the future at once: `loop.not_found`
/// (actor or request), `loop.bad_request` (fields). `timeout` is the request's deadline
/// (zero: `runtime_options::default_deadline`). Never blocks; any host thread, like
/// `actor_handle::submit`.
[[nodiscard]] inline value_future
submit_value(runtime& rt, std::string_view actor, std::string_view request, const value& fields,
             std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
  return detail::value_access::submit_value(rt, actor, request, fields, timeout);
}

/// Like `runtime::submit_pipeline`, with the first request by name and fields; the last
/// stage's reply comes back as a value. Any host thread.
[[nodiscard]] inline value_future
submit_pipeline_value(runtime& rt, std::string_view entry, std::string_view request,
                      const value& fields,
                      std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
  return detail::value_access::submit_pipeline_value(rt, entry, request, fields, timeout);
}

} // namespace loopbridge::tools
