#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loopbridge/kind_registry.hpp"

namespace loopbridge::config {

/// One key of the topology file format, as data. The loader's allowed keys, the JSON Schema
/// (`loopbridge schema`) and the reference in docs/topology.md all come from this one table, so
/// they cannot drift apart.
struct key_doc {
  /// Where the key lives: "" (top level), "runtime", "actors[]", "actors[].mailbox",
  /// "actors[].restart", "routes[]", "workload", "workload.generate".
  std::string section;
  std::string key;
  /// map, list, string, name, integer, duration, enum, names, fields, params, restart
  std::string type;
  /// The default, as written in a file ("" when none).
  std::string fallback;
  std::string doc;
  bool required = false;
  std::vector<std::string> choices;
  std::optional<long long> min;
  std::optional<long long> max;
};

/// Every key of the topology format, section by section, in documentation order.
/// Threads: any thread (a table built once, on first use, then read-only).
const std::vector<key_doc>& topology_keys();
/// The keys allowed in `section`.
std::vector<std::string> keys_of(std::string_view section);

/// The JSON Schema (draft 2020-12) of topology files, including the params of every kind in
/// `kinds`: for editors' YAML support.
std::string json_schema(const kind_registry& kinds);
/// The reference of the format and of every kind's params, in Markdown (docs/topology.md).
std::string markdown_reference(const kind_registry& kinds);

} // namespace loopbridge::config
