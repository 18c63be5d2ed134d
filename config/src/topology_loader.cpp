#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "file_text.hpp"
#include "topology_node.hpp"
#include "yaml_reader.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/config/schema.hpp"
#include "loopbridge/graph.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/workload.hpp"

namespace loopbridge::config {

namespace {

using detail::index;
using detail::join;

// Allowed keys per section come from the one schema table (schema.cpp).
const std::vector<std::string> top_keys = keys_of("");
const std::vector<std::string> runtime_keys = keys_of("runtime");
const std::vector<std::string> actor_keys = keys_of("actors[]");
const std::vector<std::string> mailbox_keys = keys_of("actors[].mailbox");
const std::vector<std::string> restart_keys = keys_of("actors[].restart");
const std::vector<std::string> route_keys = keys_of("routes[]");
const std::vector<std::string> workload_keys = keys_of("workload");
const std::vector<std::string> generate_keys = keys_of("workload.generate");
const std::vector<std::string> log_levels{"trace", "debug", "info", "warning", "error", "off"};

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || !std::isalpha(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

class topology_loader {
public:
  topology_loader(const kind_registry& kinds, detail::yaml_reader& yaml)
      : kinds_(kinds),
        yaml_(yaml) {}

  std::optional<topology> load(const YAML::Node& root) {
    topology topo;
    topo.source = yaml_.file();
    if (!yaml_.expect_map(root, "", "a map with an 'actors' list"))
      return std::nullopt;
    std::optional<YAML::Node> actors_node, routes_node, workload_node;
    for (auto& [key, node] : yaml_.entries(root, "", top_keys)) {
      if (key == "runtime")
        load_runtime(node, topo.runtime);
      else if (key == "actors")
        actors_node = node;
      else if (key == "routes")
        routes_node = node;
      else if (key == "workload")
        workload_node = node;
    }
    bool has_actors = actors_node.has_value();
    if (!has_actors)
      yaml_.add(root, "", "missing required key 'actors'", "list the actors to start");
    else
      load_actors(*actors_node, topo.actors);
    check_dependencies(topo.actors);
    if (routes_node)
      load_routes(*routes_node, topo.routes);
    if (workload_node)
      load_workload(*workload_node, topo);
    if (yaml_.problem_count() > 0)
      return std::nullopt;
    return topo;
  }

private:
  // -- runtime ---------------------------------------------------------------------------------

  void load_runtime(const YAML::Node& n, runtime_options& out) {
    if (!yaml_.expect_map(n, "runtime", "a map of runtime settings"))
      return;
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
      }
    }
  }

  // -- actors ----------------------------------------------------------------------------------

  void load_actors(const YAML::Node& n, std::vector<actor_spec>& out) {
    if (!yaml_.expect_list(n, "actors", "a list of actors"))
      return;
    if (n.size() == 0)
      yaml_.add(n, "actors", "the actors list is empty", "declare at least one actor");
    // Every declared actor takes part in the cross-checks (names, dependencies, routes), even
    // one with problems of its own, so one mistake does not cascade into false ones.
    for (std::size_t i = 0; i < n.size(); ++i) {
      actor_spec spec;
      load_actor(n[i], index("actors", i), spec);
      out.push_back(std::move(spec));
      actor_nodes_.push_back(n[i]);
    }
  }

  bool load_actor(const YAML::Node& n, const std::string& path, actor_spec& spec) {
    if (!yaml_.expect_map(n, path, "an actor (a map with name and kind)"))
      return false;
    auto before = yaml_.problem_count();
    bool has_name = false, has_kind = false;
    std::optional<YAML::Node> params_node;
    for (auto& [key, v] : yaml_.entries(n, path, actor_keys)) {
      auto p = join(path, key);
      if (key == "name") {
        has_name = true;
        if (auto s = yaml_.string(v, p)) {
          if (!valid_name(*s))
            yaml_.add(v, p, "invalid actor name " + quote(*s),
                      "a letter, then letters, digits, '_', '-' or '.'; at most 64 characters");
          spec.name = *s;
          name_nodes_[spec.name].push_back({v, p});
        }
      } else if (key == "kind") {
        has_kind = true;
        if (auto s = yaml_.string(v, p)) {
          spec.kind = *s;
          if (!kinds_.find(*s)) {
            auto suggestion = did_you_mean(*s, kinds_.names());
            std::string hint;
            if (!suggestion.empty()) {
              hint = suggestion;
            } else {
              hint = "known kinds:";
              for (auto& k : kinds_.names())
                hint += " " + k;
            }
            yaml_.add(v, p, "unknown kind " + quote(*s), hint);
          }
        }
      } else if (key == "count") {
        if (auto c = yaml_.integer(v, p, 1, 1024))
          spec.count = static_cast<std::uint32_t>(*c);
      } else if (key == "mailbox") {
        load_mailbox(v, p, spec.mailbox);
      } else if (key == "restart") {
        load_restart(v, p, spec.restart);
      } else if (key == "depends_on") {
        if (auto deps = yaml_.string_list(v, p))
          spec.depends_on = *deps;
        depends_nodes_[path] = v;
      } else if (key == "ready_timeout") {
        if (auto d = yaml_.duration(v, p, false))
          spec.ready_timeout = *d;
      } else if (key == "params") {
        params_node = v;
      }
    }
    yaml_.require(has_name, n, path, "name");
    yaml_.require(has_kind, n, path, "kind");
    if (params_node)
      load_params(*params_node, join(path, "params"), spec);
    if (spec.count == 0) { // not given: the kind's default, so the topology says what will run
      auto* kind = kinds_.find(spec.kind);
      spec.count =
          kind && kind->default_count ? std::max<std::uint32_t>(1, kind->default_count()) : 1;
    }
    return yaml_.problem_count() == before;
  }

  void load_mailbox(const YAML::Node& n, const std::string& path, mailbox_spec& out) {
    if (!yaml_.expect_map(n, path, "a map with capacity and overflow"))
      return;
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
  }

  void load_restart(const YAML::Node& n, const std::string& path, restart_spec& out) {
    auto policy = [&](const YAML::Node& v, const std::string& p) {
      if (auto s = yaml_.choice(v, p, {"never", "on_failure"}))
        out.policy = *s == "never" ? restart_policy::never : restart_policy::on_failure;
    };
    if (n.IsScalar()) {
      policy(n, path);
      return;
    }
    if (!yaml_.expect_map(n, path, "never, on_failure, or a map with policy, max_restarts, period"))
      return;
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
  }

  void load_params(const YAML::Node& n, const std::string& path, actor_spec& spec) {
    if (!n.IsMap() && !n.IsNull()) {
      yaml_.add(n, path, "expected a map of parameters, got " + detail::yaml_reader::describe(n));
      return;
    }
    spec.params = yaml_.to_value(n, path);
    auto* kind = kinds_.find(spec.kind);
    if (!kind)
      return; // the unknown kind is reported already
    params resolved;
    auto problems = resolve_params(kind->params, spec.params, resolved);
    if (problems.empty() && kind->validate)
      problems = kind->validate(resolved);
    for (auto& pr : problems) {
      auto full = pr.path.empty() ? path : join(path, pr.path);
      yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
    }
    if (problems.empty())
      spec.params = value{resolved.all()}; // typed (durations, sizes), defaults filled in
  }

  // -- dependencies ----------------------------------------------------------------------------

  void check_dependencies(const std::vector<actor_spec>& actors) {
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
      auto path = index("actors", i);
      auto node = depends_nodes_.count(path) ? depends_nodes_[path] : actor_nodes_[i];
      for (auto& dep : actors[i].depends_on) {
        if (dep == actors[i].name)
          yaml_.add(node, join(path, "depends_on"), "actor " + quote(dep) + " depends on itself");
        else if (!by_name.count(dep))
          unknown_actor(node, join(path, "depends_on"), dep);
      }
    }
    // Cycles: report each once, at the depends_on of the actor where it closes.
    std::vector<std::vector<std::size_t>> edges(actors.size());
    for (std::size_t i = 0; i < actors.size(); ++i)
      for (auto& dep : actors[i].depends_on)
        if (auto it = by_name.find(dep); it != by_name.end() && it->second != i)
          edges[i].push_back(it->second);
    auto order = order_graph(edges);
    for (auto& cycle : order.cycles) {
      auto closing = cycle.back(); // its depends_on names the first member again
      auto path = index("actors", closing);
      auto node = depends_nodes_.count(path) ? depends_nodes_[path] : actor_nodes_[closing];
      yaml_.add(node, join(path, "depends_on"),
                "depends_on cycle: " +
                    describe_cycle(cycle, [&](std::size_t k) { return actors[k].name; }),
                "an actor cannot (indirectly) depend on itself");
    }
    if (order.more_cycles)
      yaml_.add(YAML::Node{}, "actors", "more depends_on cycles than listed here");
  }

  void unknown_actor(const YAML::Node& at, const std::string& path, const std::string& name) {
    auto suggestion = did_you_mean(name, all_names_);
    std::string hint;
    if (!suggestion.empty()) {
      hint = suggestion;
    } else if (!all_names_.empty()) {
      hint = "declared actors:";
      for (auto& a : all_names_)
        hint += " " + a;
    }
    yaml_.add(at, path, "unknown actor " + quote(name), hint);
  }

  bool known_actor(const std::string& name) const {
    return std::find(all_names_.begin(), all_names_.end(), name) != all_names_.end();
  }

  // -- routes ----------------------------------------------------------------------------------

  void load_routes(const YAML::Node& n, std::vector<route_spec>& out) {
    if (!yaml_.expect_list(n, "routes", "a list of routes (maps with from and to)"))
      return;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto path = index("routes", i);
      if (!yaml_.expect_map(n[i], path, "a route (a map with from and to)"))
        continue;
      route_spec r;
      // A key that is present but malformed has its own message; "missing" is only for keys
      // that are absent, so each problem is reported once.
      bool seen_from = false, seen_to = false, has_from = false, has_to = false;
      for (auto& [key, v] : yaml_.entries(n[i], path, route_keys)) {
        (key == "from" ? seen_from : seen_to) = true;
        auto p = join(path, key);
        auto s = yaml_.string(v, p);
        if (!s)
          continue;
        if (!known_actor(*s))
          unknown_actor(v, p, *s);
        if (key == "from") {
          has_from = true;
          r.from = *s;
        } else {
          has_to = true;
          r.to = *s;
        }
      }
      yaml_.require(seen_from, n[i], path, "from");
      yaml_.require(seen_to, n[i], path, "to");
      if (has_from && has_to && r.from == r.to) {
        yaml_.add(n[i], path, "a route from " + quote(r.from) + " to itself");
      } else if (has_from && has_to && known_actor(r.from) && known_actor(r.to)) {
        if (auto first = routed_.find(r.from); first != routed_.end())
          yaml_.add(n[i], path, quote(r.from) + " already routes to " + quote(first->second),
                    "an actor has at most one outgoing route");
        else
          check_adapter(n[i], path, r);
        routed_.emplace(r.from, r.to);
      }
      out.push_back(std::move(r));
    }
    // A chain of routes that comes back to where it started never ends.
    std::map<std::string, std::size_t> route_index;
    std::vector<std::string> route_names;
    auto index_of = [&](const std::string& name) {
      auto [it, fresh] = route_index.emplace(name, route_names.size());
      if (fresh)
        route_names.push_back(name);
      return it->second;
    };
    std::vector<std::vector<std::size_t>> edges;
    for (auto& [from, to] : routed_) {
      auto f = index_of(from);
      auto t = index_of(to);
      edges.resize(route_names.size());
      edges[f].push_back(t);
    }
    auto order = order_graph(edges);
    for (auto& cycle : order.cycles)
      yaml_.add(n, "routes", "routes form a cycle: " + describe_cycle(cycle, [&](std::size_t k) {
                               return route_names[k];
                             }));
  }

  void check_adapter(const YAML::Node& at, const std::string& path, const route_spec& r) {
    auto* from = kind_of(r.from);
    auto* to = kind_of(r.to);
    if (!from || !to)
      return;
    for (auto& req : from->requests)
      if (kinds_.find_adapter(req.reply_tag, *to))
        return;
    yaml_.add(at, path, "no adapter from a reply of " + from->name + " to a request of " + to->name,
              "register one with kind_registry::adapt");
  }

  const kind_descriptor* kind_of(const std::string& actor) const {
    auto it = actor_kinds_.find(actor);
    return it == actor_kinds_.end() ? nullptr : kinds_.find(it->second);
  }

  // -- workload --------------------------------------------------------------------------------

  void load_workload(const YAML::Node& n, topology& topo) {
    if (!yaml_.expect_map(n, "workload", "a map with entry, request and requests or generate"))
      return;
    workload_spec w;
    YAML::Node entry_node = n;
    std::optional<YAML::Node> request_node, requests_node, generate_node;
    bool has_entry = false;
    for (auto& [key, v] : yaml_.entries(n, "workload", workload_keys)) {
      auto p = join("workload", key);
      if (key == "entry") {
        has_entry = true;
        entry_node = v;
        if (auto s = yaml_.string(v, p)) {
          w.entry = *s;
          if (!known_actor(*s))
            unknown_actor(v, p, *s);
        }
      } else if (key == "request") {
        request_node = v;
        if (auto s = yaml_.string(v, p))
          w.request = *s;
      } else if (key == "requests") {
        requests_node = v;
      } else if (key == "generate") {
        generate_node = v;
      } else if (key == "total") {
        if (auto t = yaml_.integer(v, p, 1, INT64_MAX))
          w.total = static_cast<std::uint64_t>(*t);
      } else if (key == "concurrency") {
        if (auto c = yaml_.integer(v, p, 1, 100000))
          w.concurrency = static_cast<std::uint32_t>(*c);
      } else if (key == "timeout") {
        if (auto d = yaml_.duration(v, p, false))
          w.timeout = *d;
      } else if (key == "context") {
        if (yaml_.expect_map(v, p, "a map of context fields"))
          w.context = yaml_.to_value(v, p);
      }
    }
    yaml_.require(has_entry, n, "workload", "entry");
    if (!requests_node && !generate_node)
      yaml_.add(n, "workload", "missing 'requests' or 'generate'",
                "list the requests, or give a template with a count");
    if (requests_node && generate_node)
      yaml_.add(*generate_node, "workload.generate",
                "give either 'requests' or 'generate', not both");
    // The request type comes from the entry actor's kind.
    const request_entry* req = nullptr;
    if (has_entry && known_actor(w.entry)) {
      auto it = std::find_if(topo.actors.begin(), topo.actors.end(),
                             [&](auto& a) { return a.name == w.entry; });
      auto* kind = it != topo.actors.end() ? kinds_.find(it->kind) : nullptr;
      if (kind)
        req = pick_request(*kind, w, request_node ? *request_node : entry_node);
    }
    if (requests_node && yaml_.expect_list(*requests_node, "workload.requests",
                                           "a list of requests (maps of fields)")) {
      for (std::size_t i = 0; i < requests_node->size(); ++i) {
        auto path = index("workload.requests", i);
        auto fields = yaml_.to_value((*requests_node)[i], path);
        check_fields(req, fields, path);
        w.requests.push_back(std::move(fields));
      }
      if (w.total == 0)
        w.total = w.requests.size();
    }
    if (generate_node &&
        yaml_.expect_map(*generate_node, "workload.generate", "a map with count and fields")) {
      std::optional<std::int64_t> count;
      value fields = value::map{};
      for (auto& [key, v] : yaml_.entries(*generate_node, "workload.generate", generate_keys)) {
        auto p = join("workload.generate", key);
        if (key == "count")
          count = yaml_.integer(v, p, 1, 100000000);
        else
          fields = yaml_.to_value(v, p);
      }
      if (!count)
        yaml_.require(false, *generate_node, "workload.generate", "count");
      check_fields(req, substitute_index(fields, 0), "workload.generate.fields");
      w.generate = value{{"count", count.value_or(0)}, {"fields", fields}};
      if (w.total == 0 && count)
        w.total = static_cast<std::uint64_t>(*count);
    }
    topo.workload = std::move(w);
  }

  const request_entry* pick_request(const kind_descriptor& kind, workload_spec& w,
                                    const YAML::Node& at) {
    std::vector<std::string> names;
    for (auto& r : kind.requests)
      if (!r.name.empty())
        names.push_back(r.name);
    if (w.request.empty()) {
      if (names.size() == 1) {
        w.request = names[0];
        return kind.find_request(w.request);
      }
      std::string hint = "kind " + kind.name + " serves:";
      for (auto& n : names)
        hint += " " + n;
      yaml_.add(at, "workload", "missing required key 'request'", hint);
      return nullptr;
    }
    if (auto* r = kind.find_request(w.request))
      return r;
    auto suggestion = did_you_mean(w.request, names);
    std::string hint = suggestion.empty() ? "kind " + kind.name + " serves:" : suggestion;
    if (suggestion.empty())
      for (auto& n : names)
        hint += " " + n;
    yaml_.add(at, "workload.request",
              "kind " + kind.name + " serves no request " + quote(w.request), hint);
    return nullptr;
  }

  void check_fields(const request_entry* req, const value& fields, const std::string& path) {
    if (!req || !req->from_value)
      return;
    std::vector<field_problem> problems;
    (void)req->from_value(fields, problems);
    for (auto& pr : problems) {
      auto full = pr.path.empty() ? path : join(path, pr.path);
      yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
    }
  }

  const kind_registry& kinds_;
  detail::yaml_reader& yaml_;
  std::vector<YAML::Node> actor_nodes_;
  std::map<std::string, std::vector<std::pair<YAML::Node, std::string>>> name_nodes_;
  std::map<std::string, YAML::Node> depends_nodes_;
  std::vector<std::string> all_names_;
  std::map<std::string, std::string> actor_kinds_;
  std::map<std::string, std::string> routed_; ///< from -> to, as declared
};

} // namespace

namespace detail {

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
      topology_loader loader{kinds, yaml};
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
