#pragma once

// Scenario files inside a Catch2 test: include this from a test file (it uses Catch2's macros,
// so the loopbridge::testing library itself does not depend on Catch2).
//
//   TEST_CASE("the greeter scenarios pass") {
//     auto kinds = loopbridge::actors::builtin_kinds();
//     kinds.add<greeter>();                                   // the user's own kind
//     loopbridge::testing::check_scenario("greeter.yaml", kinds);
//   }

#include <string>

#include "loopbridge/testing/scenario_runner.hpp"

namespace loopbridge::testing {

/// Runs the scenario file at `path` against a runtime with `kinds` and reports each step
/// through Catch2: one CHECK per step, whose message names the step, where it is in the file,
/// and on failure what was expected and what happened. A file that does not load fails with
/// every problem listed. Blocks the calling (test) thread; returns the result for more checks.
inline scenario_result check_scenario(const std::string& path, const kind_registry& kinds,
                                      const run_options& options = {}) {
  auto result = run_scenario_file(path, kinds, options);
  INFO("scenario " << path << (result.title.empty() ? "" : ": " + result.title));
  for (auto& step : result.steps) {
    INFO(format_step(step));
    CHECK(step.passed);
  }
  CHECK(result.passed());
  return result;
}

} // namespace loopbridge::testing
