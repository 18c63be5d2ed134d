#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace loopbridge {

/// A directed graph's nodes in dependency order, and its cycles, found without recursion (any
/// size fits in a small stack): the one graph search behind `depends_on` and routes, in the
/// topology loader and in the runtime alike.
///
/// `edges[i]` lists the nodes node `i` depends on (for routes: the one it sends to). `waves`
/// groups the nodes that are not on or behind a cycle: wave 0 depends on nothing, wave k only
/// on earlier waves — what can start together. `cycles` lists each cycle once, as its members
/// in path order (`{a, b, c}`: a → b → c → a), in the order a depth-first search from node 0,
/// 1, ... closes them; at most `max_cycles` are listed (`more_cycles` says whether others
/// exist). Cost: O(nodes + edges) plus the listed cycles' lengths.
/// Threads: a function of its arguments only; any thread.
struct graph_order {
  std::vector<std::vector<std::size_t>> waves;
  std::vector<std::vector<std::size_t>> cycles;
  bool more_cycles = false;

  bool acyclic() const noexcept { return cycles.empty(); }
};

graph_order order_graph(const std::vector<std::vector<std::size_t>>& edges,
                        std::size_t max_cycles = 16);

/// A cycle for a message: `'a' -> 'b' -> 'c' -> 'a'`, each name quoted (see `quote`), a long
/// cycle cut after its first eight members (`... (N more)`).
std::string describe_cycle(const std::vector<std::size_t>& cycle,
                           const std::function<std::string(std::size_t)>& name_of);

} // namespace loopbridge
