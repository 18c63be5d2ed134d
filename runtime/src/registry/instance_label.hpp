#pragma once

// How the runtime names one instance of an actor in log lines and errors.

#include <cstdint>
#include <string>

#include "loopbridge/detail/actor_record.hpp"

namespace loopbridge::detail {

/// `name/instance`, e.g. `fetcher/2`.
inline std::string instance_label(const actor_record& rec, std::uint32_t instance) {
  return rec.spec.name + "/" + std::to_string(instance);
}

} // namespace loopbridge::detail
