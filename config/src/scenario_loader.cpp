// Loading a scenario file: its top level, its topology, its list of steps, each step's keyword
// and the modifiers beside it (`expect`, `within`, ...); the public entry points.
#include "scenario_loader.hpp"

#include <algorithm>
#include <filesystem>

#include "file_text.hpp"
#include "topology_node.hpp"

namespace loopbridge::config {

namespace detail {

namespace {

const std::vector<std::string> top_keys = {"scenario", "covers", "topology", "steps"};

/// Each step names its type with its keyword; these are the keys it may have besides.
const std::map<std::string, std::vector<std::string>> step_keywords = {
    {std::string{call_step::keyword}, {"expect", "expect_error", "expect_message", "within"}},
    {std::string{submit_step::keyword}, {"as"}},
    {std::string{await_step::keyword}, {"expect", "expect_error", "expect_message", "within"}},
    {std::string{gather_step::keyword}, {"expect_error", "expect_message", "at", "within"}},
    {std::string{wait_event_step::keyword}, {"expect", "within"}},
    {std::string{fault_step::keyword}, {}},
    {std::string{spawn_step::keyword}, {"expect_error", "expect_message", "within"}},
    {std::string{stop_actor_step::keyword}, {"expect", "within"}},
    {std::string{parallel_step::keyword}, {}},
    {std::string{repeat_step::keyword}, {}},
    {std::string{stream_step::keyword}, {"expect", "within"}},
    {std::string{offload_step::keyword}, {"expect", "expect_error", "expect_message", "within"}},
    {std::string{expect_metrics_step::keyword}, {"expect", "within"}},
    {std::string{stop_step::keyword}, {"expect", "within"}},
};

} // namespace

std::optional<scenario> scenario_loader::load(const YAML::Node& root) {
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
    if (auto topo = load_topology(*topology_node))
      s.topo = std::move(*topo);
  for (auto& a : s.topo.actors)
    actors_[a.name] = a.kind;
  if (steps_node && yaml_.expect_list(*steps_node, "steps", "a list of steps"))
    s.steps = load_steps(*steps_node, "steps");
  if (yaml_.problem_count() > 0)
    return std::nullopt;
  return s;
}

std::optional<topology> scenario_loader::load_topology(const YAML::Node& n) {
  if (!n.IsScalar()) // inline
    return load_topology_node(kinds_, yaml_, n);
  // A file, relative to the scenario's directory.
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
    return std::nullopt;
  }
  return std::move(*loaded.topology);
}

std::vector<scenario_step> scenario_loader::load_steps(const YAML::Node& list,
                                                       const std::string& path) {
  std::vector<scenario_step> steps;
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto step = load_step(list[i], index(path, i)))
      steps.push_back(std::move(*step));
  return steps;
}

std::optional<scenario_step> scenario_loader::load_step(const YAML::Node& n,
                                                        const std::string& path) {
  if (!yaml_.expect_map(n, path, "a step (a map with one of: call, submit, await, ...)"))
    return std::nullopt;
  auto keyword = find_keyword(n, path);
  if (!keyword)
    return std::nullopt;
  const auto& [name, action_node] = *keyword;
  auto allowed = step_keywords.at(name);
  allowed.push_back(name);
  auto entries = yaml_.entries(n, path, allowed);
  auto modifiers = load_modifiers(entries, name, path);
  scenario_step step;
  step.path = path;
  step.where = yaml_.file() + ":" + std::to_string(n.Mark().line + 1) + ":" +
               std::to_string(n.Mark().column + 1);
  step.action = load_action(name, action_node, join(path, name), modifiers);
  check_modifiers(n, path, name, modifiers);
  return step;
}

std::optional<std::pair<std::string, YAML::Node>>
scenario_loader::find_keyword(const YAML::Node& n, const std::string& path) {
  // Which type of step: the first key that is a step keyword.
  std::optional<std::pair<std::string, YAML::Node>> keyword;
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
    if (!step_keywords.count(key))
      continue;
    if (keyword) {
      yaml_.add(it->first, join(path, key),
                "a step does one thing: it already is a " + quote(keyword->first),
                "split it into two steps");
      return std::nullopt;
    }
    keyword = std::make_pair(key, it->second);
  }
  if (!keyword) {
    std::vector<std::string> all_keys;
    for (auto& [name, modifiers] : step_keywords)
      all_keys.push_back(name);
    for (auto m : {"expect", "expect_error", "expect_message", "within", "as", "at"})
      all_keys.push_back(m);
    yaml_.entries(n, path, all_keys); // reports misspelled keywords with a did-you-mean
    yaml_.add(n, path, "the step names no action",
              "start it with one of: call, submit, await, gather, wait_event, fault, spawn, "
              "stop_actor, parallel, repeat, stream, offload, expect_metrics, stop");
  }
  return keyword;
}

step_modifiers
scenario_loader::load_modifiers(const std::vector<std::pair<std::string, YAML::Node>>& entries,
                                const std::string& keyword, const std::string& path) {
  step_modifiers m;
  for (auto& [key, v] : entries) {
    auto p = join(path, key);
    if (key == keyword)
      continue;
    if (key == "expect")
      m.expect = yaml_.to_value(v, p);
    else if (key == "expect_error")
      m.expect_error = yaml_.string(v, p).value_or("");
    else if (key == "expect_message")
      m.expect_message = yaml_.string(v, p).value_or("");
    else if (key == "within") {
      if (auto d = yaml_.duration(v, p, false))
        m.within = *d;
    } else if (key == "as") {
      if (auto s = yaml_.string(v, p)) {
        m.as = *s;
        if (!submitted_.insert(*s).second)
          yaml_.add(v, p, quote(*s) + " already names an earlier submit",
                    "give each submit its own name");
      }
    } else if (key == "at") {
      if (auto i = yaml_.integer(v, p, 0, 1000000))
        m.at = static_cast<std::size_t>(*i);
    }
  }
  return m;
}

void scenario_loader::check_modifiers(const YAML::Node& n, const std::string& path,
                                      const std::string& keyword, const step_modifiers& m) {
  if (keyword == submit_step::keyword && m.as.empty())
    yaml_.add(n, path, "missing required key 'as'", "name the submit, for a later 'await'");
  if (keyword == gather_step::keyword && m.at && m.expect_error.empty())
    yaml_.add(n, path, "'at' needs 'expect_error'", "say which error the item fails with");
  if (!m.expect_error.empty() && m.expect_error.find('.') == std::string::npos)
    yaml_.add(n, join(path, "expect_error"), quote(m.expect_error) + " is not an error code",
              "error codes are domain.code, e.g. loop.timeout or fetch.http_status");
}

} // namespace detail

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
      detail::scenario_loader loader{kinds, yaml, result.problems};
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
