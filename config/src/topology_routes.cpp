// A topology's routes: each route's ends, one outgoing route per actor, an adapter between the
// two kinds, and no chain of routes that comes back to where it started.
#include "topology_loader.hpp"

#include "loopbridge/config/schema.hpp"
#include "loopbridge/graph.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> route_keys = keys_of("routes[]");

} // namespace

std::vector<route_spec> topology_loader::load_routes(const YAML::Node& n) {
  std::vector<route_spec> out;
  if (!yaml_.expect_list(n, "routes", "a list of routes (maps with from and to)"))
    return out;
  for (std::size_t i = 0; i < n.size(); ++i)
    if (auto r = load_route(n[i], index("routes", i)))
      out.push_back(std::move(*r));
  check_route_cycles(n);
  return out;
}

std::optional<route_spec> topology_loader::load_route(const YAML::Node& n,
                                                      const std::string& path) {
  if (!yaml_.expect_map(n, path, "a route (a map with from and to)"))
    return std::nullopt;
  route_spec r;
  // A key that is present but malformed has its own message; "missing" is only for keys
  // that are absent, so each problem is reported once.
  bool seen_from = false, seen_to = false, has_from = false, has_to = false;
  for (auto& [key, v] : yaml_.entries(n, path, route_keys)) {
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
  yaml_.require(seen_from, n, path, "from");
  yaml_.require(seen_to, n, path, "to");
  if (has_from && has_to && r.from == r.to) {
    yaml_.add(n, path, "a route from " + quote(r.from) + " to itself");
  } else if (has_from && has_to && known_actor(r.from) && known_actor(r.to)) {
    if (auto first = routed_.find(r.from); first != routed_.end())
      yaml_.add(n, path, quote(r.from) + " already routes to " + quote(first->second),
                "an actor has at most one outgoing route");
    else
      check_adapter(n, path, r);
    routed_.emplace(r.from, r.to);
  }
  return r;
}

void topology_loader::check_route_cycles(const YAML::Node& n) {
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

void topology_loader::check_adapter(const YAML::Node& at, const std::string& path,
                                    const route_spec& r) {
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

const kind_descriptor* topology_loader::kind_of(const std::string& actor) const {
  auto it = actor_kinds_.find(actor);
  return it == actor_kinds_.end() ? nullptr : kinds_.find(it->second);
}

} // namespace loopbridge::config::detail
