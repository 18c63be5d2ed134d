#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "loopbridge/config/scenario.hpp"
#include "loopbridge/kind_registry.hpp"

namespace loopbridge::testing {

/// The outcome of one scenario step (or of loading/starting the scenario).
struct step_result {
  /// `steps[3] call web (fetch)` — what the step did.
  std::string label;
  /// `file:line:column` of the step.
  std::string where;
  bool passed = false;
  std::chrono::nanoseconds took{0};
  /// On failure: what was expected and what happened instead.
  std::string expected;
  std::string actual;
};

/// The outcome of one scenario file.
struct scenario_result {
  std::string file;
  std::string title;
  std::string covers;
  /// Every step that ran, in order (nested steps of parallel/repeat blocks are summarised in
  /// their block's result). Stops after the first failure.
  std::vector<step_result> steps;
  std::chrono::nanoseconds took{0};

  bool passed() const;
  /// The first failed step, or nullptr.
  const step_result* first_failure() const;
};

struct run_options {
  /// The time bound of steps that give no `within`.
  std::chrono::nanoseconds default_within = std::chrono::seconds(10);
  /// Called after each top-level step, on the calling thread (for live output).
  std::function<void(const step_result&)> on_step;
  /// The program that runs a node of the scenario's topology: one built with
  /// `loopbridge::cli::main` and the same kinds (`loopbridge scenario` sets its own). For each
  /// node on a loopback address the runner starts `PROGRAM node --node NAME --port PORT FILE`
  /// on a free port before the topology and stops it afterwards; the nodes' secret variables
  /// must be set in this process's environment, which they inherit. Empty: a scenario whose
  /// topology places actors on a loopback node fails its start, saying so.
  std::string node_program;
  /// How long the nodes may take to serve, in all.
  std::chrono::milliseconds node_start_timeout = std::chrono::seconds(30);
};

/// The topology of `s` as the runner starts it: `${scenario.dir}` in actor params resolved to
/// the scenario file's directory. (`loopbridge node` runs a scenario file's node with it.)
topology scenario_topology(const config::scenario& s);

/// Runs `s` against a new runtime with `kinds` (the built-in kinds, or a user's registry with
/// their own kinds): starts the topology, runs the steps in order until one fails, then stops
/// the runtime. Blocks the calling thread; never throws for a failing scenario (failures are
/// results). Thread-safe: scenarios may run concurrently, each with its own runtime.
scenario_result run_scenario(const config::scenario& s, const kind_registry& kinds,
                             const run_options& options = {});

/// Loads and runs a scenario file; a file that does not load is one failed step listing every
/// problem (file:line:column).
scenario_result run_scenario_file(const std::string& path, const kind_registry& kinds,
                                  const run_options& options = {});

/// `PASS steps[0] call echo (echo) 1.2 ms` — and, on failure, expected and actual lines.
std::string format_step(const step_result& r);

/// JUnit XML for CI systems: one testsuite, one testcase per scenario, its failure naming the
/// step, where it is, and expected vs actual.
std::string junit_xml(const std::vector<scenario_result>& results);

} // namespace loopbridge::testing
