// A topology's actors: each actor's keys, mailbox, restart budget and params (checked against
// its kind), and the dependencies between actors (unknown names, self-dependencies, cycles).
#include <algorithm>

#include "topology_loader.hpp"

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/config/schema.hpp"
#include "loopbridge/graph.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> actor_keys = keys_of("actors[]");
const std::vector<std::string> mailbox_keys = keys_of("actors[].mailbox");
const std::vector<std::string> restart_keys = keys_of("actors[].restart");

} // namespace

std::string unknown_name_hint(const std::string& name, const std::vector<std::string>& names,
                              const std::string& listed) {
  auto hint = did_you_mean(name, names);
  if (!hint.empty() || names.empty())
    return hint;
  hint = listed + ":";
  for (auto& n : names)
    hint += " " + n;
  return hint;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || !std::isalpha(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::vector<actor_spec> topology_loader::load_actors(const YAML::Node& n) {
  std::vector<actor_spec> out;
  if (!yaml_.expect_list(n, "actors", "a list of actors"))
    return out;
  if (n.size() == 0)
    yaml_.add(n, "actors", "the actors list is empty", "declare at least one actor");
  // Every declared actor takes part in the cross-checks (names, dependencies, routes), even
  // one with problems of its own, so one mistake does not cascade into false ones.
  for (std::size_t i = 0; i < n.size(); ++i) {
    out.push_back(load_actor(n[i], index("actors", i)));
    actor_nodes_.push_back(n[i]);
  }
  return out;
}

actor_spec topology_loader::load_actor(const YAML::Node& n, const std::string& path) {
  actor_spec spec;
  if (!yaml_.expect_map(n, path, "an actor (a map with name and kind)"))
    return spec;
  bool has_name = false, has_kind = false;
  std::optional<YAML::Node> params_node, count_node, resend_node;
  for (auto& [key, v] : yaml_.entries(n, path, actor_keys)) {
    auto p = join(path, key);
    if (key == "name") {
      has_name = true;
      if (auto s = yaml_.string(v, p)) {
        if (!valid_name(*s))
          yaml_.add(v, p, "invalid actor name " + quote(*s), name_rule);
        spec.name = *s;
        name_nodes_[spec.name].push_back({v, p});
      }
    } else if (key == "kind") {
      has_kind = true;
      if (auto s = yaml_.string(v, p)) {
        spec.kind = *s;
        check_kind(v, p, *s);
      }
    } else if (key == "count") {
      count_node = v;
      if (auto c = yaml_.integer(v, p, 1, max_instances))
        spec.count = static_cast<std::uint32_t>(*c);
    } else if (key == "mailbox") {
      spec.mailbox = load_mailbox(v, p);
    } else if (key == "restart") {
      spec.restart = load_restart(v, p);
    } else if (key == "depends_on") {
      if (auto deps = yaml_.string_list(v, p))
        spec.depends_on = *deps;
      depends_nodes_[path] = v;
    } else if (key == "ready_timeout") {
      if (auto d = yaml_.duration(v, p, false))
        spec.ready_timeout = *d;
    } else if (key == "max_suspended") {
      if (auto c = yaml_.integer(v, p, 0, 1000000000))
        spec.max_suspended = static_cast<std::uint32_t>(*c);
    } else if (key == "node") {
      if (auto s = yaml_.string(v, p))
        spec.node = *s;
      placement_nodes_[path] = v;
    } else if (key == "resend_lost") {
      resend_node = v;
      if (auto b = yaml_.boolean(v, p))
        spec.resend_lost = *b;
    } else if (key == "params") {
      params_node = v;
    }
  }
  yaml_.require(has_name, n, path, "name");
  yaml_.require(has_kind, n, path, "kind");
  if (spec.resend_lost && spec.node.empty())
    yaml_.add(*resend_node, join(path, "resend_lost"),
              "resend_lost applies only to an actor placed on a node",
              "set node, or remove resend_lost");
  if (params_node)
    spec.params = load_params(*params_node, join(path, "params"), spec);
  if (spec.count == 0) { // not given: the kind's default, so the topology says what will run
    auto* kind = kinds_.find(spec.kind);
    spec.count =
        kind && kind->default_count ? std::max<std::uint32_t>(1, kind->default_count()) : 1;
  }
  if (count_node)
    check_thread_count(*count_node, join(path, "count"), spec);
  return spec;
}

void topology_loader::check_thread_count(const YAML::Node& v, const std::string& path,
                                         const actor_spec& spec) {
  auto* kind = kinds_.find(spec.kind);
  if (!kind || !kind->mode)
    return;
  params resolved;
  if (!resolve_params(kind->params, spec.params, resolved).empty())
    return; // reported with the params
  execution mode;
  try {
    mode = kind->mode(resolved);
  } catch (const std::exception&) {
    return; // the runtime reports it at spawn
  }
  auto limit = instance_thread_limit();
  if (mode != execution::scheduled && spec.count > limit)
    yaml_.add(v, path,
              "count " + std::to_string(spec.count) + " would need a thread per instance, over " +
                  "this machine's limit of " + std::to_string(limit),
              "half the threads the kernel allows this user; use a scheduled kind for more");
}

void topology_loader::check_kind(const YAML::Node& v, const std::string& path,
                                 const std::string& kind) {
  if (kinds_.find(kind))
    return;
  yaml_.add(v, path, "unknown kind " + quote(kind),
            unknown_name_hint(kind, kinds_.names(), "known kinds"));
}

mailbox_spec topology_loader::load_mailbox(const YAML::Node& n, const std::string& path) {
  mailbox_spec out;
  if (!yaml_.expect_map(n, path, "a map with capacity and overflow"))
    return out;
  for (auto& [key, v] : yaml_.entries(n, path, mailbox_keys)) {
    auto p = join(path, key);
    if (key == "capacity") {
      if (auto c = yaml_.integer(v, p, 1, 1000000000))
        out.capacity = static_cast<std::size_t>(*c);
    } else if (key == "overflow") {
      if (auto s = yaml_.choice(v, p, {"block", "reject", "drop_oldest"}))
        out.overflow = *s == "block"    ? overflow_policy::block
                       : *s == "reject" ? overflow_policy::reject
                                        : overflow_policy::drop_oldest;
    }
  }
  return out;
}

restart_spec topology_loader::load_restart(const YAML::Node& n, const std::string& path) {
  restart_spec out;
  auto policy = [&](const YAML::Node& v, const std::string& p) {
    if (auto s = yaml_.choice(v, p, {"never", "on_failure"}))
      out.policy = *s == "never" ? restart_policy::never : restart_policy::on_failure;
  };
  if (n.IsScalar()) {
    policy(n, path);
    return out;
  }
  if (!yaml_.expect_map(n, path, "never, on_failure, or a map with policy, max_restarts, period"))
    return out;
  for (auto& [key, v] : yaml_.entries(n, path, restart_keys)) {
    auto p = join(path, key);
    if (key == "policy") {
      policy(v, p);
    } else if (key == "max_restarts") {
      if (auto i = yaml_.integer(v, p, 0, 1000000))
        out.max_restarts = static_cast<std::uint32_t>(*i);
    } else if (key == "period") {
      if (auto d = yaml_.duration(v, p, false))
        out.period = *d;
    }
  }
  return out;
}

value topology_loader::load_params(const YAML::Node& n, const std::string& path,
                                   const actor_spec& spec) {
  if (!n.IsMap() && !n.IsNull()) {
    yaml_.add(n, path, "expected a map of parameters, got " + yaml_reader::describe(n));
    return spec.params;
  }
  auto written = yaml_.to_value(n, path);
  auto* kind = kinds_.find(spec.kind);
  if (!kind)
    return written; // the unknown kind is reported already
  params resolved;
  auto problems = resolve_params(kind->params, written, resolved);
  if (problems.empty() && kind->validate)
    problems = kind->validate(resolved);
  for (auto& pr : problems) {
    auto full = pr.path.empty() ? path : join(path, pr.path);
    yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
  }
  if (!problems.empty())
    return written;
  return value{resolved.all()}; // typed (durations, sizes), defaults filled in
}

void topology_loader::check_dependencies(const std::vector<actor_spec>& actors) {
  std::vector<std::string> names;
  std::map<std::string, std::size_t> by_name;
  // Duplicate names (reported at every repetition).
  for (auto& [name, nodes] : name_nodes_)
    for (std::size_t k = 1; k < nodes.size(); ++k)
      yaml_.add(nodes[k].first, nodes[k].second, "duplicate actor name " + quote(name),
                "first defined at line " + std::to_string(nodes[0].first.Mark().line + 1));
  for (std::size_t i = 0; i < actors.size(); ++i) {
    if (actors[i].name.empty())
      continue;
    if (by_name.emplace(actors[i].name, i).second)
      names.push_back(actors[i].name);
  }
  all_names_ = names;
  for (auto& a : actors)
    if (!a.name.empty())
      actor_kinds_.emplace(a.name, a.kind);
  for (std::size_t i = 0; i < actors.size(); ++i) {
    auto path = join(index("actors", i), "depends_on");
    for (auto& dep : actors[i].depends_on) {
      if (dep == actors[i].name)
        yaml_.add(depends_node(i), path, "actor " + quote(dep) + " depends on itself");
      else if (!by_name.count(dep))
        unknown_actor(depends_node(i), path, dep);
    }
  }
  check_dependency_cycles(actors, by_name);
}

void topology_loader::check_dependency_cycles(const std::vector<actor_spec>& actors,
                                              const std::map<std::string, std::size_t>& by_name) {
  // Each cycle is reported once, at the depends_on of the actor where it closes.
  std::vector<std::vector<std::size_t>> edges(actors.size());
  for (std::size_t i = 0; i < actors.size(); ++i)
    for (auto& dep : actors[i].depends_on)
      if (auto it = by_name.find(dep); it != by_name.end() && it->second != i)
        edges[i].push_back(it->second);
  auto order = order_graph(edges);
  for (auto& cycle : order.cycles) {
    auto closing = cycle.back(); // its depends_on names the first member again
    yaml_.add(depends_node(closing), join(index("actors", closing), "depends_on"),
              "depends_on cycle: " +
                  describe_cycle(cycle, [&](std::size_t k) { return actors[k].name; }),
              "an actor cannot (indirectly) depend on itself");
  }
  if (order.more_cycles)
    yaml_.add(YAML::Node{}, "actors", "more depends_on cycles than listed here");
}

YAML::Node topology_loader::depends_node(std::size_t i) {
  auto it = depends_nodes_.find(index("actors", i));
  return it != depends_nodes_.end() ? it->second : actor_nodes_[i];
}

void topology_loader::unknown_actor(const YAML::Node& at, const std::string& path,
                                    const std::string& name) {
  yaml_.add(at, path, "unknown actor " + quote(name),
            unknown_name_hint(name, all_names_, "declared actors"));
}

bool topology_loader::known_actor(const std::string& name) const {
  return std::find(all_names_.begin(), all_names_.end(), name) != all_names_.end();
}

} // namespace loopbridge::config::detail
