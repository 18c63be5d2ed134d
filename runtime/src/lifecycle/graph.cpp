// Ordering a dependency graph in waves and finding its cycles.
#include "loopbridge/graph.hpp"

#include <algorithm>
#include <set>

#include "loopbridge/text.hpp"

namespace loopbridge {

namespace {

/// Kahn's algorithm: a node joins a wave once everything it depends on is in an earlier one.
std::vector<std::vector<std::size_t>> waves_of(const std::vector<std::vector<std::size_t>>& edges) {
  auto n = edges.size();
  std::vector<std::size_t> missing(n, 0); // dependencies not yet placed
  std::vector<std::vector<std::size_t>> dependents(n);
  for (std::size_t i = 0; i < n; ++i)
    for (auto j : edges[i])
      if (j < n) {
        ++missing[i];
        dependents[j].push_back(i);
      }
  std::vector<std::vector<std::size_t>> waves;
  std::vector<std::size_t> current;
  for (std::size_t i = 0; i < n; ++i)
    if (missing[i] == 0)
      current.push_back(i);
  while (!current.empty()) {
    std::vector<std::size_t> next;
    for (auto j : current)
      for (auto i : dependents[j])
        if (--missing[i] == 0)
          next.push_back(i);
    waves.push_back(std::move(current));
    current = std::move(next);
  }
  return waves;
}

} // namespace

graph_order order_graph(const std::vector<std::vector<std::size_t>>& edges,
                        std::size_t max_cycles) {
  graph_order out;
  out.waves = waves_of(edges);
  // Cycles: an iterative depth-first search; an edge back to a node on the current path
  // closes a cycle made of the path from that node on.
  auto n = edges.size();
  enum : unsigned char { fresh, on_path, finished };
  std::vector<unsigned char> state(n, fresh);
  std::vector<std::size_t> path;           // nodes on the current path
  std::vector<std::size_t> next_edge;      // per path entry: the next edge to follow
  std::vector<std::size_t> position(n, 0); // a node's index in `path` while on it
  std::set<std::vector<std::size_t>> seen; // each cycle once, by its members
  for (std::size_t root = 0; root < n; ++root) {
    if (state[root] != fresh)
      continue;
    state[root] = on_path;
    position[root] = 0;
    path.assign(1, root);
    next_edge.assign(1, 0);
    while (!path.empty()) {
      auto i = path.back();
      auto& k = next_edge.back();
      if (k == edges[i].size()) {
        state[i] = finished;
        path.pop_back();
        next_edge.pop_back();
        continue;
      }
      auto j = edges[i][k++];
      if (j >= n || state[j] == finished)
        continue;
      if (state[j] == fresh) {
        state[j] = on_path;
        position[j] = path.size();
        path.push_back(j);
        next_edge.push_back(0);
        continue;
      }
      // j is on the path: a cycle.
      if (out.cycles.size() >= max_cycles) {
        out.more_cycles = true;
        continue;
      }
      std::vector<std::size_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(position[j]),
                                     path.end());
      auto members = cycle;
      std::sort(members.begin(), members.end());
      if (seen.insert(std::move(members)).second)
        out.cycles.push_back(std::move(cycle));
    }
  }
  return out;
}

std::string describe_cycle(const std::vector<std::size_t>& cycle,
                           const std::function<std::string(std::size_t)>& name_of) {
  constexpr std::size_t shown = 8;
  std::string s;
  for (std::size_t k = 0; k < cycle.size() && k < shown; ++k)
    s += quote(name_of(cycle[k])) + " -> ";
  if (cycle.size() > shown)
    s += "... (" + std::to_string(cycle.size() - shown) + " more) -> ";
  return cycle.empty() ? s : s + quote(name_of(cycle.front()));
}

} // namespace loopbridge
