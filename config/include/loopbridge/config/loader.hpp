#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loopbridge/config/problem.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::config {

/// The result of loading a topology file: the topology when the whole file is valid, otherwise
/// every problem found (not just the first), each located.
struct load_result {
  std::optional<loopbridge::topology> topology;
  std::vector<problem> problems;

  bool ok() const noexcept { return problems.empty() && topology.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// Every problem, one per line.
  std::string report() const;
};

/// Limits that keep loading bounded in time and memory whatever the input.
struct load_limits {
  /// Room for 100,000 named actors; more belongs in pools (`count`).
  std::size_t max_bytes = 16 * 1024 * 1024;
  /// Nesting of maps and lists.
  int max_depth = 32;
  /// Nodes visited, counting each use of a YAML alias again (so alias bombs stop here). A
  /// document may also expand to no more than 16 nodes per byte of its text (at least 10,000),
  /// so a small file of aliases is refused at once.
  std::size_t max_nodes = 1000000;
};

/// Reads and validates the topology file at `path`; actor params are checked against the kinds
/// in `kinds`. Never throws; nothing is started. Thread-safe (no shared state).
load_result load(const std::string& path, const kind_registry& kinds, load_limits limits = {});

/// Like `load`, from text; `file` names it in messages.
load_result parse(std::string_view text, const kind_registry& kinds, std::string file = "<input>",
                  load_limits limits = {});

} // namespace loopbridge::config
