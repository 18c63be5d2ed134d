// A topology's workload: its entry actor and request, listed or generated requests (their
// fields checked against the request's converter), total, concurrency, timeout and context.
#include <algorithm>

#include "topology_loader.hpp"

#include "loopbridge/config/schema.hpp"
#include "loopbridge/tools/workload.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> workload_keys = keys_of("workload");
const std::vector<std::string> generate_keys = keys_of("workload.generate");

} // namespace

/// The workload's plain keys, read, and the nodes of those checked later.
struct topology_loader::workload_draft {
  workload_spec spec;
  bool has_entry = false;
  YAML::Node entry;
  std::optional<YAML::Node> request, requests, generate;
};

std::optional<workload_spec> topology_loader::load_workload(const YAML::Node& n,
                                                            const topology& topo) {
  if (!yaml_.expect_map(n, "workload", "a map with entry, request and requests or generate"))
    return std::nullopt;
  auto w = read_workload_keys(n);
  yaml_.require(w.has_entry, n, "workload", "entry");
  if (!w.requests && !w.generate)
    yaml_.add(n, "workload", "missing 'requests' or 'generate'",
              "list the requests, or give a template with a count");
  if (w.requests && w.generate)
    yaml_.add(*w.generate, "workload.generate", "give either 'requests' or 'generate', not both");
  // The request type comes from the entry actor's kind.
  const request_entry* req = nullptr;
  if (w.has_entry && known_actor(w.spec.entry)) {
    auto it = std::find_if(topo.actors.begin(), topo.actors.end(),
                           [&](auto& a) { return a.name == w.spec.entry; });
    if (auto* kind = it != topo.actors.end() ? kinds_.find(it->kind) : nullptr) {
      auto picked = pick_request(*kind, w.spec.request, w.request ? *w.request : w.entry);
      w.spec.request = picked.name;
      req = picked.entry;
    }
  }
  if (w.requests &&
      yaml_.expect_list(*w.requests, "workload.requests", "a list of requests (maps of fields)")) {
    w.spec.requests = load_listed_requests(*w.requests, req);
    if (w.spec.total == 0)
      w.spec.total = w.spec.requests.size();
  }
  if (w.generate &&
      yaml_.expect_map(*w.generate, "workload.generate", "a map with count and fields")) {
    w.spec.generate = load_generated_requests(*w.generate, req);
    auto count = w.spec.generate.find("count")->as_integer();
    if (w.spec.total == 0 && count > 0)
      w.spec.total = static_cast<std::uint64_t>(count);
  }
  return std::move(w.spec);
}

topology_loader::workload_draft topology_loader::read_workload_keys(const YAML::Node& n) {
  workload_draft w;
  w.entry = n;
  for (auto& [key, v] : yaml_.entries(n, "workload", workload_keys)) {
    auto p = join("workload", key);
    if (key == "entry") {
      w.has_entry = true;
      w.entry = v;
      if (auto s = yaml_.string(v, p)) {
        w.spec.entry = *s;
        if (!known_actor(*s))
          unknown_actor(v, p, *s);
      }
    } else if (key == "request") {
      w.request = v;
      if (auto s = yaml_.string(v, p))
        w.spec.request = *s;
    } else if (key == "requests") {
      w.requests = v;
    } else if (key == "generate") {
      w.generate = v;
    } else if (key == "total") {
      if (auto t = yaml_.integer(v, p, 1, INT64_MAX))
        w.spec.total = static_cast<std::uint64_t>(*t);
    } else if (key == "concurrency") {
      if (auto c = yaml_.integer(v, p, 1, 100000))
        w.spec.concurrency = static_cast<std::uint32_t>(*c);
    } else if (key == "timeout") {
      if (auto d = yaml_.duration(v, p, false))
        w.spec.timeout = *d;
    } else if (key == "context") {
      if (yaml_.expect_map(v, p, "a map of context fields"))
        w.spec.context = yaml_.to_value(v, p);
    }
  }
  return w;
}

topology_loader::picked_request topology_loader::pick_request(const kind_descriptor& kind,
                                                              const std::string& request,
                                                              const YAML::Node& at) {
  auto names = kind.request_names();
  if (request.empty()) {
    if (names.size() == 1)
      return {names[0], kind.find_request(names[0])};
    yaml_.add(at, "workload", "missing required key 'request'", kind.served_hint());
    return {request, nullptr};
  }
  if (auto* r = kind.find_request(request))
    return {request, r};
  auto suggestion = did_you_mean(request, names);
  yaml_.add(at, "workload.request", "kind " + kind.name + " serves no request " + quote(request),
            suggestion.empty() ? kind.served_hint() : suggestion);
  return {request, nullptr};
}

std::vector<value> topology_loader::load_listed_requests(const YAML::Node& n,
                                                         const request_entry* req) {
  std::vector<value> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto path = index("workload.requests", i);
    auto fields = yaml_.to_value(n[i], path);
    check_fields(req, fields, path);
    out.push_back(std::move(fields));
  }
  return out;
}

value topology_loader::load_generated_requests(const YAML::Node& n, const request_entry* req) {
  std::optional<std::int64_t> count;
  value fields = value::map{};
  for (auto& [key, v] : yaml_.entries(n, "workload.generate", generate_keys)) {
    auto p = join("workload.generate", key);
    if (key == "count")
      count = yaml_.integer(v, p, 1, 100000000);
    else
      fields = yaml_.to_value(v, p);
  }
  if (!count)
    yaml_.require(false, n, "workload.generate", "count");
  check_fields(req, tools::substitute_index(fields, 0), "workload.generate.fields");
  return value{{"count", count.value_or(0)}, {"fields", fields}};
}

void topology_loader::check_fields(const request_entry* req, const value& fields,
                                   const std::string& path) {
  if (!req || !req->from_value)
    return;
  std::vector<field_problem> problems;
  (void)req->from_value(fields, problems);
  for (auto& pr : problems) {
    auto full = pr.path.empty() ? path : join(path, pr.path);
    yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
  }
}

} // namespace loopbridge::config::detail
