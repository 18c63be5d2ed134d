#pragma once

#include <optional>

#include "yaml_reader.hpp"

#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::config::detail {

/// Loads a topology from an already parsed node (a topology file's root, or a scenario's
/// inline `topology:`), reporting problems through `yaml`. Nothing when there were problems.
std::optional<topology> load_topology_node(const kind_registry& kinds, yaml_reader& yaml,
                                           const YAML::Node& root);

} // namespace loopbridge::config::detail
