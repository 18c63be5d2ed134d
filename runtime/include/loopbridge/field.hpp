#pragma once

#include <caf/meta/annotation.hpp>

namespace loopbridge {

/// Names the field that follows it in an `inspect` description. CAF's inspectors skip it (it is
/// a `caf::meta::annotation`); loopbridge's value converters (`convert.hpp`) use it to map
/// fields to and from YAML.
/// Threads: a compile-time marker, no state.
struct field_name_t : caf::meta::annotation {
  constexpr explicit field_name_t(const char* n) : name(n) {}
  const char* name;
};

constexpr field_name_t field(const char* name) {
  return field_name_t{name};
}

} // namespace loopbridge
