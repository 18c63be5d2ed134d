// The topology loader's shape: what it reads, and in which file each part lives.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "yaml_reader.hpp"

#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::config::detail {

/// Names of actors and nodes: a letter, then letters, digits, '_', '-' or '.'; at most 64.
bool valid_name(const std::string& s);
/// That rule in words, for hints.
inline constexpr const char* name_rule =
    "a letter, then letters, digits, '_', '-' or '.'; at most 64 characters";

/// The hint for a name that matches nothing: a did-you-mean among `names`, otherwise
/// `listed: a b c` (empty when there are no names).
std::string unknown_name_hint(const std::string& name, const std::vector<std::string>& names,
                              const std::string& listed);

/// Reads one topology document into a `topology`, reporting every problem through `yaml`.
/// Not thread-safe (one per load).
class topology_loader {
public:
  topology_loader(const kind_registry& kinds, yaml_reader& yaml) : kinds_(kinds), yaml_(yaml) {}

  /// The topology, or nothing when there were problems.
  std::optional<topology> load(const YAML::Node& root);

private:
  // topology_loader.cpp: the top level and the runtime section.
  runtime_options load_runtime(const YAML::Node& n);

  // topology_actors.cpp: actors, their params, and the dependencies between them.
  std::vector<actor_spec> load_actors(const YAML::Node& n);
  actor_spec load_actor(const YAML::Node& n, const std::string& path);
  void check_kind(const YAML::Node& v, const std::string& path, const std::string& kind);
  mailbox_spec load_mailbox(const YAML::Node& n, const std::string& path);
  restart_spec load_restart(const YAML::Node& n, const std::string& path);
  /// The params of `spec` (its kind's types and defaults filled in when they are valid).
  value load_params(const YAML::Node& n, const std::string& path, const actor_spec& spec);
  /// A kind whose instances have threads of their own: `count` within `instance_thread_limit`.
  void check_thread_count(const YAML::Node& v, const std::string& path, const actor_spec& spec);
  void check_dependencies(const std::vector<actor_spec>& actors);
  void check_dependency_cycles(const std::vector<actor_spec>& actors,
                               const std::map<std::string, std::size_t>& by_name);
  /// The node a problem with actor `i`'s dependencies is reported at.
  YAML::Node depends_node(std::size_t i);
  void unknown_actor(const YAML::Node& at, const std::string& path, const std::string& name);
  bool known_actor(const std::string& name) const;

  // topology_nodes.cpp: other processes and the actors placed on them.
  std::vector<node_spec> load_nodes(const YAML::Node& n);
  std::optional<node_spec> load_node(const YAML::Node& n, const std::string& path);
  /// A node with TLS needs the main process's identity (`runtime.tls`) to be connected.
  void check_main_tls(const YAML::Node& nodes, const runtime_options& runtime);
  /// A TLS identity at `path`, whose keys the schema lists under `section`.
  tls_spec load_tls(const YAML::Node& n, const std::string& path, const std::string& section);
  /// Each actor's `node` names a declared node, and its kind may leave the main process.
  void check_placements(const std::vector<actor_spec>& actors);

  // topology_routes.cpp: routes between actors.
  std::vector<route_spec> load_routes(const YAML::Node& n);
  std::optional<route_spec> load_route(const YAML::Node& n, const std::string& path);
  void check_route_cycles(const YAML::Node& n);
  void check_adapter(const YAML::Node& at, const std::string& path, const route_spec& r);
  const kind_descriptor* kind_of(const std::string& actor) const;

  // topology_workload.cpp: what `loopbridge run` drives.
  struct workload_draft;
  /// The request type a workload sends, with its name (filled in when the entry's kind
  /// serves one).
  struct picked_request {
    std::string name;
    const request_entry* entry = nullptr;
  };
  std::optional<workload_spec> load_workload(const YAML::Node& n, const topology& topo);
  workload_draft read_workload_keys(const YAML::Node& n);
  picked_request pick_request(const kind_descriptor& kind, const std::string& request,
                              const YAML::Node& at);
  std::vector<value> load_listed_requests(const YAML::Node& n, const request_entry* req);
  /// `{count, fields}` of generated requests.
  value load_generated_requests(const YAML::Node& n, const request_entry* req);
  void check_fields(const request_entry* req, const value& fields, const std::string& path);

  const kind_registry& kinds_;
  yaml_reader& yaml_;
  std::vector<YAML::Node> actor_nodes_;
  std::map<std::string, std::vector<std::pair<YAML::Node, std::string>>> name_nodes_;
  std::map<std::string, YAML::Node> depends_nodes_;
  std::vector<std::string> all_names_;
  std::map<std::string, std::string> actor_kinds_;
  std::map<std::string, std::string> routed_; ///< from -> to, as declared
  std::vector<std::string> node_names_;
  std::map<std::string, YAML::Node> placement_nodes_; ///< `actors[i]` -> its `node` key
};

} // namespace loopbridge::config::detail
