// Loading a topology file: its top level and runtime section; the public entry points. The
// sections live beside it: topology_actors.cpp, topology_routes.cpp, topology_workload.cpp.
#include "topology_loader.hpp"

#include <algorithm>

#include "file_text.hpp"
#include "topology_node.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/config/schema.hpp"

namespace loopbridge::config {

namespace detail {

namespace {

// Allowed keys per section come from the one schema table (schema.cpp).
const std::vector<std::string> top_keys = keys_of("");
const std::vector<std::string> runtime_keys = keys_of("runtime");
const std::vector<std::string> log_levels{"trace", "debug", "info", "warning", "error", "off"};

} // namespace

std::optional<topology> topology_loader::load(const YAML::Node& root) {
  topology topo;
  topo.source = yaml_.file();
  if (!yaml_.expect_map(root, "", "a map with an 'actors' list"))
    return std::nullopt;
  std::optional<YAML::Node> actors_node, routes_node, workload_node, nodes_node;
  for (auto& [key, node] : yaml_.entries(root, "", top_keys)) {
    if (key == "runtime")
      topo.runtime = load_runtime(node);
    else if (key == "actors")
      actors_node = node;
    else if (key == "routes")
      routes_node = node;
    else if (key == "workload")
      workload_node = node;
    else if (key == "nodes")
      nodes_node = node;
  }
  if (nodes_node) { // before the actors, whose placements name them
    topo.nodes = load_nodes(*nodes_node);
    check_main_tls(*nodes_node, topo.runtime);
  }
  if (!actors_node)
    yaml_.add(root, "", "missing required key 'actors'", "list the actors to start");
  else
    topo.actors = load_actors(*actors_node);
  check_dependencies(topo.actors);
  check_placements(topo.actors);
  if (routes_node)
    topo.routes = load_routes(*routes_node);
  if (workload_node)
    topo.workload = load_workload(*workload_node, topo);
  if (yaml_.problem_count() > 0)
    return std::nullopt;
  return topo;
}

runtime_options topology_loader::load_runtime(const YAML::Node& n) {
  runtime_options out;
  if (!yaml_.expect_map(n, "runtime", "a map of runtime settings"))
    return out;
  for (auto& [key, v] : yaml_.entries(n, "runtime", runtime_keys)) {
    auto path = join("runtime", key);
    if (key == "scheduler_threads") {
      if (auto i = yaml_.integer(v, path, 0, 256))
        out.scheduler_threads = static_cast<std::size_t>(*i);
    } else if (key == "slow_handler") {
      if (auto d = yaml_.duration(v, path, true))
        out.slow_handler = *d;
    } else if (key == "default_deadline") {
      if (auto d = yaml_.duration(v, path, false))
        out.default_deadline = *d;
    } else if (key == "shutdown_budget") {
      if (auto d = yaml_.duration(v, path, false))
        out.shutdown_budget = *d;
    } else if (key == "default_capacity") {
      if (auto i = yaml_.integer(v, path, 1, 1000000000))
        out.default_capacity = static_cast<std::size_t>(*i);
    } else if (key == "log_level") {
      if (auto s = yaml_.choice(v, path, log_levels))
        parse_log_level(*s, out.log);
    } else if (key == "loop_spin") {
      if (auto d = yaml_.duration(v, path, true))
        out.loop_spin = *d;
    } else if (key == "host_spin") {
      if (auto d = yaml_.duration(v, path, true))
        out.host_spin = *d;
    } else if (key == "tls") {
      out.tls = load_tls(v, path, "runtime.tls");
    }
  }
  return out;
}

void topology_loader::check_main_tls(const YAML::Node& nodes, const runtime_options& runtime) {
  if (runtime.tls.enabled() || !nodes.IsSequence())
    return;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].IsMap() && nodes[i]["tls"].IsDefined())
      yaml_.add(nodes[i]["tls"], join(index("nodes", i), "tls"),
                "this node uses TLS, but the main process has no TLS identity to connect with",
                "add runtime.tls (certificate, key, cafile), signed by the same CA");
}

std::optional<topology> load_topology_node(const kind_registry& kinds, yaml_reader& yaml,
                                           const YAML::Node& root) {
  topology_loader loader{kinds, yaml};
  return loader.load(root);
}

} // namespace detail

load_result parse(std::string_view text, const kind_registry& kinds, std::string file,
                  load_limits limits) {
  load_result result;
  try {
    detail::yaml_reader yaml{std::move(file), limits, result.problems};
    if (auto root = yaml.parse(text)) {
      detail::topology_loader loader{kinds, yaml};
      result.topology = loader.load(*root);
    }
  } catch (const std::exception& e) {
    // The readers never throw on bad input; this is a last line of defence.
    result.problems.push_back({file, 1, 1, "", std::string{"internal error: "} + e.what(), ""});
  }
  std::stable_sort(result.problems.begin(), result.problems.end(), [](auto& a, auto& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  if (!result.problems.empty())
    result.topology.reset();
  return result;
}

load_result load(const std::string& path, const kind_registry& kinds, load_limits limits) {
  load_result r;
  auto text = detail::read_file(path, limits, r.problems);
  if (!text)
    return r;
  return parse(*text, kinds, path, limits);
}

} // namespace loopbridge::config
