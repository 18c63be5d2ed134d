#pragma once

#include <cstdint>
#include <string>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge::detail {

/// The runtime's record of one spawned actor name. Created by `runtime::spawn`, immutable
/// afterwards and shared read-only by host threads (handles) and the event loop.
struct actor_record {
  actor_spec spec;
  const kind_descriptor* kind = nullptr;
  loopbridge::params params;
  loopbridge::execution mode = loopbridge::execution::scheduled;
  /// Position in the event loop's table of targets.
  std::uint32_t index = 0;
  /// Effective capacity (the spec's, or the runtime default).
  std::size_t capacity = 0;
};

} // namespace loopbridge::detail
