// What scenario steps refer to: requests (checked against the actor's kind and the request's
// converter), actors known so far, and the names of earlier submits.
#include <regex>

#include "scenario_loader.hpp"

#include "loopbridge/params.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> request_keys = {"to", "request", "fields", "context"};

} // namespace

step_request scenario_loader::load_request(const YAML::Node& v, const std::string& p) {
  step_request out;
  if (!yaml_.expect_map(v, p, "a request: {to, request, fields}"))
    return out;
  std::optional<YAML::Node> to_node, request_node;
  for (auto& [key, e] : yaml_.entries(v, p, request_keys)) {
    auto kp = join(p, key);
    if (key == "to") {
      to_node = e;
      out.to = known_actor(e, kp);
    } else if (key == "request") {
      request_node = e;
      out.request = yaml_.string(e, kp).value_or("");
    } else if (key == "fields") {
      out.fields = yaml_.to_value(e, kp);
    } else if (key == "context") {
      if (yaml_.expect_map(e, kp, "a map of context fields"))
        out.context = yaml_.to_value(e, kp);
    }
  }
  yaml_.require(to_node.has_value(), v, p, "to");
  auto* kind = out.to.empty() ? nullptr : kinds_.find(actors_[out.to]);
  if (!kind)
    return out;
  auto names = kind->request_names();
  if (out.request.empty() && names.size() == 1) {
    out.request = names[0];
  } else if (out.request.empty() && !request_node) {
    yaml_.add(v, p, "missing required key 'request'", kind->served_hint());
    return out;
  }
  auto* req = kind->find_request(out.request);
  if (!req) {
    auto suggestion = did_you_mean(out.request, names);
    yaml_.add(request_node ? *request_node : v, join(p, "request"),
              "kind " + kind->name + " serves no request " + quote(out.request),
              suggestion.empty() ? kind->served_hint() : suggestion);
    return out;
  }
  check_fields(*req, out.fields, join(p, "fields"));
  return out;
}

void scenario_loader::check_fields(const request_entry& req, const value& fields,
                                   const std::string& path) {
  if (!req.from_value)
    return;
  std::vector<field_problem> problems;
  (void)req.from_value(fields.is_null() ? value{value::map{}} : fields, problems);
  for (auto& pr : problems) {
    auto full = pr.path.empty() ? path : join(path, pr.path);
    yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
  }
}

std::string scenario_loader::known_actor(const YAML::Node& n, const std::string& path) {
  auto name = yaml_.string(n, path);
  if (!name)
    return {};
  if (actors_.count(*name))
    return *name;
  std::vector<std::string> names;
  for (auto& [a, k] : actors_)
    names.push_back(a);
  auto suggestion = did_you_mean(*name, names);
  yaml_.add(n, path, "no actor " + quote(*name) + " in the topology",
            suggestion.empty() ? "spawn it first, or declare it in the topology" : suggestion);
  return {};
}

bool scenario_loader::submitted(const std::string& name) const {
  for (auto& pattern : submitted_) {
    if (pattern == name)
      return true;
    std::string rx;
    for (std::size_t k = 0; k < pattern.size(); ++k) {
      if (pattern[k] == '{' && pattern.compare(k, 2, "{i") == 0) {
        auto close = pattern.find('}', k);
        if (close != std::string::npos) {
          rx += "[0-9]+";
          k = close;
          continue;
        }
      }
      if (std::string{"\\^$.|?*+()[]{}"}.find(pattern[k]) != std::string::npos)
        rx += '\\';
      rx += pattern[k];
    }
    if (std::regex_match(name, std::regex{rx}))
      return true;
  }
  return false;
}

} // namespace loopbridge::config::detail
