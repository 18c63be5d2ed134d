#pragma once

// The runtime's fault-injection entry points. Host code calls them through the testing
// library (loopbridge/testing/faults.hpp), not from here.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "loopbridge/result.hpp"

namespace loopbridge {
class runtime;
} // namespace loopbridge

namespace loopbridge::detail {

/// What `loopbridge::testing::kill_instance` and `slow_down` call (see there for the
/// contract): the runtime's fault injection kept off its public facade. Any host thread.
struct fault_access {
  static result<void> kill_instance(runtime& rt, std::string_view name, std::uint32_t instance);
  static result<void> slow_down(runtime& rt, std::string_view name, std::chrono::nanoseconds delay);
};

} // namespace loopbridge::detail
