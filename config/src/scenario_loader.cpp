#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "file_text.hpp"
#include "topology_node.hpp"
#include "yaml_reader.hpp"

#include "loopbridge/config/scenario.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge::config {

namespace {

using detail::index;
using detail::join;
using step_kind = scenario_step::kind;

const std::vector<std::string> top_keys = {"scenario", "covers", "topology", "steps"};

/// Each step names its kind with one of these keys.
const std::map<std::string, step_kind> step_keywords = {
    {"call", step_kind::call},
    {"submit", step_kind::submit},
    {"await", step_kind::await},
    {"gather", step_kind::gather},
    {"wait_event", step_kind::wait_event},
    {"fault", step_kind::fault},
    {"spawn", step_kind::spawn},
    {"stop_actor", step_kind::stop_actor},
    {"parallel", step_kind::parallel},
    {"repeat", step_kind::repeat},
    {"stream", step_kind::stream},
    {"offload", step_kind::offload},
    {"expect_metrics", step_kind::expect_metrics},
    {"stop", step_kind::stop},
};

/// The keys a step of each kind may have besides its keyword.
std::vector<std::string> modifiers_of(step_kind k) {
  switch (k) {
    case step_kind::call:
    case step_kind::await:
    case step_kind::offload:
      return {"expect", "expect_error", "expect_message", "within"};
    case step_kind::submit:
      return {"as"};
    case step_kind::gather:
      return {"expect_error", "expect_message", "at", "within"};
    case step_kind::wait_event:
    case step_kind::expect_metrics:
    case step_kind::stop_actor:
    case step_kind::stream:
    case step_kind::stop:
      return {"expect", "within"};
    case step_kind::spawn:
      return {"expect_error", "expect_message", "within"};
    case step_kind::fault:
    case step_kind::parallel:
    case step_kind::repeat:
      return {};
  }
  return {};
}

const std::vector<std::string> request_keys = {"to", "request", "fields", "context"};
const std::vector<std::string> event_types = {"ready", "done", "stopped", "restarted",
                                              "start_failed"};

class scenario_loader {
public:
  scenario_loader(const kind_registry& kinds, detail::yaml_reader& yaml,
                  std::vector<problem>& problems)
      : kinds_(kinds),
        yaml_(yaml),
        problems_(problems) {}

  std::optional<scenario> load(const YAML::Node& root) {
    scenario s;
    s.source = yaml_.file();
    if (!yaml_.expect_map(root, "", "a map with scenario, topology and steps"))
      return std::nullopt;
    std::optional<YAML::Node> topology_node, steps_node;
    bool has_title = false;
    for (auto& [key, node] : yaml_.entries(root, "", top_keys)) {
      if (key == "scenario") {
        has_title = true;
        if (auto t = yaml_.string(node, key))
          s.title = *t;
      } else if (key == "covers") {
        if (auto c = yaml_.string(node, key))
          s.covers = *c;
      } else if (key == "topology") {
        topology_node = node;
      } else if (key == "steps") {
        steps_node = node;
      }
    }
    yaml_.require(has_title, root, "", "scenario");
    yaml_.require(topology_node.has_value(), root, "", "topology");
    yaml_.require(steps_node.has_value(), root, "", "steps");
    if (topology_node)
      load_topology(*topology_node, s);
    for (auto& a : s.topo.actors)
      actors_[a.name] = a.kind;
    if (steps_node && yaml_.expect_list(*steps_node, "steps", "a list of steps"))
      s.steps = load_steps(*steps_node, "steps");
    if (yaml_.problem_count() > 0)
      return std::nullopt;
    return s;
  }

private:
  void load_topology(const YAML::Node& n, scenario& s) {
    if (n.IsScalar()) { // a file, relative to the scenario's directory
      namespace fs = std::filesystem;
      fs::path file = n.as<std::string>();
      if (file.is_relative())
        file = fs::path{yaml_.file()}.parent_path() / file;
      auto loaded = config::load(file.lexically_normal().string(), kinds_);
      if (!loaded) {
        for (auto& p : loaded.problems)
          problems_.push_back(p);
        if (loaded.problems.size() == 1 && loaded.problems[0].line == 0) // cannot open it
          yaml_.add(n, "topology", "cannot load the topology file " + file.string());
        return;
      }
      s.topo = std::move(*loaded.topology);
      return;
    }
    if (auto topo = detail::load_topology_node(kinds_, yaml_, n))
      s.topo = std::move(*topo);
  }

  std::vector<scenario_step> load_steps(const YAML::Node& list, const std::string& path) {
    std::vector<scenario_step> steps;
    for (std::size_t i = 0; i < list.size(); ++i) {
      scenario_step step;
      if (load_step(list[i], index(path, i), step))
        steps.push_back(std::move(step));
    }
    return steps;
  }

  bool load_step(const YAML::Node& n, const std::string& path, scenario_step& step) {
    if (!yaml_.expect_map(n, path, "a step (a map with one of: call, submit, await, ...)"))
      return false;
    step.path = path;
    step.where = yaml_.file() + ":" + std::to_string(n.Mark().line + 1) + ":" +
                 std::to_string(n.Mark().column + 1);
    // Which kind of step: the first key that is a step keyword.
    std::optional<std::pair<std::string, YAML::Node>> keyword;
    std::vector<std::string> all_keys;
    for (auto& [name, kind] : step_keywords)
      all_keys.push_back(name);
    for (auto it = n.begin(); it != n.end(); ++it) {
      auto key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
      if (step_keywords.count(key)) {
        if (keyword) {
          yaml_.add(it->first, join(path, key),
                    "a step does one thing: it already is a " + quote(keyword->first),
                    "split it into two steps");
          return false;
        }
        keyword = std::make_pair(key, it->second);
      }
    }
    if (!keyword) {
      std::vector<std::string> modifiers = {"expect", "expect_error", "expect_message",
                                            "within", "as",           "at"};
      for (auto& m : modifiers)
        all_keys.push_back(m);
      yaml_.entries(n, path, all_keys); // reports misspelled keywords with a did-you-mean
      yaml_.add(n, path, "the step names no action",
                "start it with one of: call, submit, await, gather, wait_event, fault, spawn, "
                "stop_actor, parallel, repeat, stream, offload, expect_metrics, stop");
      return false;
    }
    step.type = step_keywords.at(keyword->first);
    auto allowed = modifiers_of(step.type);
    allowed.push_back(keyword->first);
    for (auto& [key, v] : yaml_.entries(n, path, allowed)) {
      auto p = join(path, key);
      if (key == keyword->first)
        load_action(v, p, step);
      else if (key == "expect")
        step.expect = yaml_.to_value(v, p);
      else if (key == "expect_error")
        step.expect_error = yaml_.string(v, p).value_or("");
      else if (key == "expect_message")
        step.expect_message = yaml_.string(v, p).value_or("");
      else if (key == "within") {
        if (auto d = yaml_.duration(v, p, false))
          step.within = *d;
      } else if (key == "as") {
        if (auto s = yaml_.string(v, p)) {
          step.name = *s;
          if (!submitted_.insert(*s).second)
            yaml_.add(v, p, quote(*s) + " already names an earlier submit",
                      "give each submit its own name");
        }
      } else if (key == "at") {
        if (auto i = yaml_.integer(v, p, 0, 1000000))
          step.fail_index = *i;
      }
    }
    if (step.type == step_kind::submit && step.name.empty())
      yaml_.add(n, path, "missing required key 'as'", "name the submit, for a later 'await'");
    if (step.type == step_kind::gather && step.fail_index >= 0 && step.expect_error.empty())
      yaml_.add(n, path, "'at' needs 'expect_error'", "say which error the item fails with");
    if (!step.expect_error.empty() && step.expect_error.find('.') == std::string::npos)
      yaml_.add(n, join(path, "expect_error"), quote(step.expect_error) + " is not an error code",
                "error codes are domain.code, e.g. loop.timeout or fetch.http_status");
    return true;
  }

  void load_action(const YAML::Node& v, const std::string& p, scenario_step& step) {
    switch (step.type) {
      case step_kind::call:
      case step_kind::submit:
        load_request(v, p, step);
        break;
      case step_kind::await:
        if (auto s = yaml_.string(v, p)) {
          step.name = *s;
          if (!submitted(*s)) {
            auto suggestion = did_you_mean(*s, {submitted_.begin(), submitted_.end()});
            yaml_.add(v, p, "no earlier submit is named " + quote(*s),
                      suggestion.empty() ? "name a submit with 'as'" : suggestion);
          }
        }
        break;
      case step_kind::gather:
        if (yaml_.expect_list(v, p, "a list of requests ({to, request, fields})"))
          for (std::size_t i = 0; i < v.size(); ++i) {
            scenario_step item;
            item.type = step_kind::call;
            item.path = index(p, i);
            load_request(v[i], item.path, item);
            step.steps.push_back(std::move(item));
          }
        break;
      case step_kind::wait_event:
        if (yaml_.expect_map(v, p, "a map with type and actor"))
          for (auto& [key, e] : yaml_.entries(v, p, {"type", "actor"})) {
            if (key == "type")
              step.event = yaml_.choice(e, join(p, key), event_types).value_or("");
            else
              step.name = known_actor(e, join(p, key));
          }
        if (step.event.empty() && v.IsMap() && !v["type"])
          yaml_.require(false, v, p, "type");
        break;
      case step_kind::fault:
        load_fault(v, p, step);
        break;
      case step_kind::spawn:
        load_spawn(v, p, step);
        break;
      case step_kind::stop_actor:
      case step_kind::expect_metrics:
        if (auto s = yaml_.string(v, p))
          step.name = known_actor(v, p);
        break;
      case step_kind::parallel:
        if (yaml_.expect_list(v, p, "a list of steps to run at once"))
          step.steps = load_steps(v, p);
        break;
      case step_kind::repeat:
        if (yaml_.expect_map(v, p, "a map with times, concurrency and steps")) {
          bool has_steps = false;
          for (auto& [key, e] : yaml_.entries(v, p, {"times", "concurrency", "steps"})) {
            auto kp = join(p, key);
            if (key == "times")
              step.times = static_cast<std::uint64_t>(yaml_.integer(e, kp, 1, 1000000).value_or(1));
            else if (key == "concurrency")
              step.concurrency =
                  static_cast<std::uint32_t>(yaml_.integer(e, kp, 1, 1024).value_or(1));
            else if (yaml_.expect_list(e, kp, "a list of steps")) {
              has_steps = true;
              step.steps = load_steps(e, kp);
            }
          }
          yaml_.require(has_steps, v, p, "steps");
        }
        break;
      case step_kind::stream:
        if (yaml_.expect_map(v, p, "a map with items, max_buffer, take and close")) {
          for (auto& [key, e] : yaml_.entries(v, p, {"items", "max_buffer", "take", "close"})) {
            auto kp = join(p, key);
            if (key == "close")
              yaml_.boolean(e, kp);
            else
              yaml_.integer(e, kp, key == "take" ? 0 : 1, 100000000);
          }
          step.args = yaml_.to_value(v, p);
        }
        break;
      case step_kind::offload:
        if (yaml_.expect_map(v, p, "a map with work, times and pool")) {
          for (auto& [key, e] :
               yaml_.entries(v, p, {"work", "times", "pool", "duration", "call", "separate"})) {
            auto kp = join(p, key);
            if (key == "work")
              yaml_.choice(e, kp, {"sleep", "fail", "call"});
            else if (key == "times")
              yaml_.integer(e, kp, 1, 1000000);
            else if (key == "pool")
              known_actor(e, kp);
            else if (key == "duration")
              yaml_.duration(e, kp, true);
            else if (key == "separate")
              yaml_.boolean(e, kp);
            else {
              scenario_step call;
              load_request(e, kp, call);
            }
          }
          step.args = yaml_.to_value(v, p);
          if (!v["work"])
            yaml_.require(false, v, p, "work");
        }
        break;
      case step_kind::stop:
        if (!v.IsNull() && yaml_.expect_map(v, p, "a map (may be empty: stop: {})"))
          step.args = yaml_.to_value(v, p);
        break;
    }
  }

  void load_request(const YAML::Node& v, const std::string& p, scenario_step& step) {
    if (!yaml_.expect_map(v, p, "a request: {to, request, fields}"))
      return;
    std::optional<YAML::Node> to_node, request_node;
    for (auto& [key, e] : yaml_.entries(v, p, request_keys)) {
      auto kp = join(p, key);
      if (key == "to") {
        to_node = e;
        step.to = known_actor(e, kp);
      } else if (key == "request") {
        request_node = e;
        step.request = yaml_.string(e, kp).value_or("");
      } else if (key == "fields") {
        step.fields = yaml_.to_value(e, kp);
      } else if (key == "context") {
        if (yaml_.expect_map(e, kp, "a map of context fields"))
          step.context = yaml_.to_value(e, kp);
      }
    }
    yaml_.require(to_node.has_value(), v, p, "to");
    if (step.to.empty())
      return;
    auto* kind = kinds_.find(actors_[step.to]);
    if (!kind)
      return;
    std::vector<std::string> names;
    for (auto& r : kind->requests)
      if (!r.name.empty())
        names.push_back(r.name);
    if (step.request.empty()) {
      if (names.size() == 1) {
        step.request = names[0];
      } else if (!request_node) {
        std::string hint = "kind " + kind->name + " serves:";
        for (auto& n : names)
          hint += " " + n;
        yaml_.add(v, p, "missing required key 'request'", hint);
        return;
      }
    }
    auto* req = kind->find_request(step.request);
    if (!req) {
      auto suggestion = did_you_mean(step.request, names);
      std::string hint = "kind " + kind->name + " serves:";
      for (auto& n : names)
        hint += " " + n;
      yaml_.add(request_node ? *request_node : v, join(p, "request"),
                "kind " + kind->name + " serves no request " + quote(step.request),
                suggestion.empty() ? hint : suggestion);
      return;
    }
    if (req->from_value) {
      std::vector<field_problem> problems;
      auto fields_path = join(p, "fields");
      (void)req->from_value(step.fields.is_null() ? value{value::map{}} : step.fields, problems);
      for (auto& pr : problems) {
        auto full = pr.path.empty() ? fields_path : join(fields_path, pr.path);
        yaml_.add(yaml_.mark_of(full), full, pr.message, pr.hint);
      }
    }
  }

  void load_fault(const YAML::Node& v, const std::string& p, scenario_step& step) {
    if (!yaml_.expect_map(v, p, "a fault: {kill: ..}, {slow: ..} or {origin: .., faults: [..]}"))
      return;
    for (auto& [key, e] : yaml_.entries(v, p, {"kill", "slow", "origin", "faults"})) {
      auto kp = join(p, key);
      if (key == "kill" || key == "slow") {
        if (yaml_.expect_map(e, kp, key == "kill" ? "{actor, instance}" : "{actor, delay}"))
          for (auto& [k, f] :
               yaml_.entries(e, kp, {"actor", key == "kill" ? "instance" : "delay"})) {
            if (k == "actor")
              known_actor(f, join(kp, k));
            else if (k == "instance")
              yaml_.integer(f, join(kp, k), 0, 100000);
            else
              yaml_.duration(f, join(kp, k), true);
          }
      } else if (key == "origin") {
        known_actor(e, kp);
      } else {
        yaml_.expect_list(e, kp, "a list of origin faults ({path, status, delay, ...})");
      }
    }
    step.fault = yaml_.to_value(v, p);
  }

  void load_spawn(const YAML::Node& v, const std::string& p, scenario_step& step) {
    if (!yaml_.expect_map(v, p, "an actor: {name, kind, count, params}"))
      return;
    for (auto& [key, e] :
         yaml_.entries(v, p, {"name", "kind", "count", "params", "ready_timeout"})) {
      auto kp = join(p, key);
      if (key == "name") {
        step.spawn.name = yaml_.string(e, kp).value_or("");
      } else if (key == "kind") {
        step.spawn.kind = yaml_.string(e, kp).value_or("");
        if (!step.spawn.kind.empty() && !kinds_.find(step.spawn.kind)) {
          auto suggestion = did_you_mean(step.spawn.kind, kinds_.names());
          yaml_.add(e, kp, "unknown kind " + quote(step.spawn.kind),
                    suggestion.empty() ? "" : suggestion);
        }
      } else if (key == "count") {
        step.spawn.count = static_cast<std::uint32_t>(yaml_.integer(e, kp, 0, 10000).value_or(1));
      } else if (key == "params") {
        step.spawn.params = yaml_.to_value(e, kp);
      } else if (auto d = yaml_.duration(e, kp, false)) {
        step.spawn.ready_timeout = *d;
      }
    }
    yaml_.require(v["name"].IsDefined(), v, p, "name");
    yaml_.require(v["kind"].IsDefined(), v, p, "kind");
    if (!step.spawn.name.empty())
      actors_[step.spawn.name] = step.spawn.kind;
  }

  /// The actor named by scalar `n`, reported (with a did-you-mean) if the topology and the
  /// spawn steps so far have none; empty then.
  std::string known_actor(const YAML::Node& n, const std::string& path) {
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

  /// True if an earlier submit has the name `name`, or a pattern (`r{i}`, `job-{i%4}`) that
  /// produces it.
  bool submitted(const std::string& name) const {
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

  const kind_registry& kinds_;
  detail::yaml_reader& yaml_;
  std::vector<problem>& problems_;
  std::map<std::string, std::string> actors_; ///< name -> kind, topology and spawn steps
  std::set<std::string> submitted_;
};

} // namespace

std::string scenario_load_result::report() const {
  std::string out;
  for (auto& p : problems)
    out += p.to_string() + "\n";
  return out;
}

scenario_load_result parse_scenario(std::string_view text, const kind_registry& kinds,
                                    std::string file, load_limits limits) {
  scenario_load_result result;
  try {
    detail::yaml_reader yaml{file, limits, result.problems};
    if (auto root = yaml.parse(text)) {
      scenario_loader loader{kinds, yaml, result.problems};
      result.scenario = loader.load(*root);
    }
  } catch (const std::exception& e) {
    result.problems.push_back({file, 1, 1, "", std::string{"internal error: "} + e.what(), ""});
  }
  std::stable_sort(result.problems.begin(), result.problems.end(), [](auto& a, auto& b) {
    return a.file != b.file   ? a.file < b.file
           : a.line != b.line ? a.line < b.line
                              : a.column < b.column;
  });
  if (!result.problems.empty())
    result.scenario.reset();
  return result;
}

scenario_load_result load_scenario(const std::string& path, const kind_registry& kinds,
                                   load_limits limits) {
  scenario_load_result r;
  auto text = detail::read_file(path, limits, r.problems);
  if (!text)
    return r;
  return parse_scenario(*text, kinds, path, limits);
}

} // namespace loopbridge::config
