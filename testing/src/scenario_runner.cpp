// Running a scenario: start its topology, run its steps in order until one fails, stop; and
// the one-line report of a step.
#include "loopbridge/testing/scenario_runner.hpp"

#include "loopbridge/runtime.hpp"
#include "loopbridge/tools/workload.hpp"

#include "runner.hpp"
#include "scenario_nodes.hpp"

namespace loopbridge::testing {

namespace {

using detail::clock;
using detail::ms_text;
using detail::verdict;

/// What a step's label says after its path and keyword: its target, for the step types that
/// have one.
struct label_detail {
  std::string operator()(const config::call_step& s) const { return request(s.request); }
  std::string operator()(const config::submit_step& s) const { return request(s.request); }
  std::string operator()(const config::await_step& s) const { return " " + s.name; }
  std::string operator()(const config::stop_actor_step& s) const { return " " + s.actor; }
  std::string operator()(const config::expect_metrics_step& s) const { return " " + s.actor; }
  std::string operator()(const config::wait_event_step& s) const {
    return " " + s.event + (s.actor.empty() ? "" : " of " + s.actor);
  }
  std::string operator()(const config::spawn_step& s) const {
    return " " + s.actor.name + " (" + s.actor.kind + ")";
  }
  std::string operator()(const config::repeat_step& s) const {
    return " x" + std::to_string(s.times) + " (" + std::to_string(s.concurrency) + " at once)";
  }
  template <class Step>
  std::string operator()(const Step&) const {
    return "";
  }

  static std::string request(const config::step_request& r) {
    return " " + r.to + " (" + r.request + ")";
  }
};

/// `steps[3] call web (fetch)`
std::string step_label(const config::scenario_step& s) {
  return s.path + " " + std::string{config::keyword_of(s.action)} +
         std::visit(label_detail{}, s.action);
}

} // namespace

topology scenario_topology(const config::scenario& s) {
  auto topo = s.topo;
  auto dir = detail::scenario_dir(s);
  for (auto& a : topo.actors) {
    auto params = tools::resolve_actor_placeholders(
        a.params,
        [&](const std::string& actor, const std::string& key) -> std::optional<std::string> {
          if (actor == "scenario" && key == "dir")
            return dir;
          return std::nullopt;
        });
    if (params)
      a.params = std::move(*params);
  }
  return topo;
}

namespace {

step_result start_nodes(detail::scenario_nodes& nodes, const config::scenario& s, topology& topo,
                        const run_options& options) {
  step_result start;
  start.label = "start the nodes (" + std::to_string(topo.nodes.size()) + ")";
  start.where = s.source;
  auto t0 = clock::now();
  auto started = nodes.start(topo, s.source, options.node_program, options.node_start_timeout);
  start.took = clock::now() - t0;
  start.passed = started.ok();
  if (!started) {
    start.expected = "every node on this machine serving";
    start.actual = started.error().message();
  }
  return start;
}

step_result start_topology(runtime& rt, const config::scenario& s, const topology& topo) {
  step_result start;
  start.label = "start the topology (" + std::to_string(s.topo.actors.size()) + " actors)";
  start.where = s.source;
  auto t0 = clock::now();
  auto started = rt.start(topo);
  start.took = clock::now() - t0;
  start.passed = started.ok();
  if (!started) {
    start.expected = "every actor ready";
    start.actual = started.error().message();
  }
  return start;
}

step_result run_step(detail::runner& r, const config::scenario_step& step) {
  step_result res;
  res.label = step_label(step);
  res.where = step.where;
  auto t0 = clock::now();
  verdict v;
  try {
    v = r.run(step, 0);
  } catch (const std::exception& e) {
    v = verdict::fail("the step to run", std::string{"it threw: "} + e.what());
  }
  res.took = clock::now() - t0;
  // A bounded step that returned late failed, even if its outcome was right.
  auto within = detail::declared_within(step);
  if (v.ok && within.count() > 0 && res.took > within + std::chrono::milliseconds(500))
    v = verdict::fail("done within " + ms_text(within), "took " + ms_text(res.took));
  res.passed = v.ok;
  res.expected = v.expected;
  res.actual = v.actual;
  return res;
}

} // namespace

bool scenario_result::passed() const {
  return !steps.empty() && first_failure() == nullptr;
}

const step_result* scenario_result::first_failure() const {
  for (auto& s : steps)
    if (!s.passed)
      return &s;
  return nullptr;
}

scenario_result run_scenario(const config::scenario& s, const kind_registry& kinds,
                             const run_options& options) {
  scenario_result out;
  out.file = s.source;
  out.title = s.title;
  out.covers = s.covers;
  auto t_begin = clock::now();
  auto emit = [&](step_result r) {
    out.steps.push_back(std::move(r));
    if (options.on_step)
      options.on_step(out.steps.back());
    return out.steps.back().passed;
  };
  auto topo = scenario_topology(s);
  detail::scenario_nodes nodes;
  if (!topo.nodes.empty() && !emit(start_nodes(nodes, s, topo, options))) {
    out.took = clock::now() - t_begin;
    return out;
  }
  runtime rt{kinds, topo.options()};
  detail::runner r{s, rt, options};
  if (!emit(start_topology(rt, s, topo))) {
    rt.stop();
    out.took = clock::now() - t_begin;
    return out;
  }
  for (auto& step : s.steps)
    if (!emit(run_step(r, step)))
      break;
  rt.stop();
  nodes.stop();
  out.took = clock::now() - t_begin;
  return out;
}

scenario_result run_scenario_file(const std::string& path, const kind_registry& kinds,
                                  const run_options& options) {
  auto loaded = config::load_scenario(path, kinds);
  if (!loaded) {
    scenario_result out;
    out.file = path;
    step_result load;
    load.label = "load the scenario";
    load.where = path;
    load.expected = "a valid scenario file";
    load.actual = std::to_string(loaded.problems.size()) + " problem(s):\n" + loaded.report();
    out.steps.push_back(load);
    if (options.on_step)
      options.on_step(out.steps.back());
    return out;
  }
  return run_scenario(*loaded.scenario, kinds, options);
}

std::string format_step(const step_result& r) {
  std::string line = std::string{r.passed ? "PASS " : "FAIL "} + r.label + "  " + ms_text(r.took);
  if (!r.passed) {
    line += "\n       at " + r.where;
    line += "\n       expected: " + r.expected;
    line += "\n       actual:   " + r.actual;
  }
  return line;
}

} // namespace loopbridge::testing
