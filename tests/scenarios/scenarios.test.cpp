// The scenario files of tests/scenarios run as part of the suite; the must-fail ones prove the
// runner can fail; malformed scenarios get located problems; the seed table is covered.
#include <catch2/catch.hpp>

#include <cstdlib>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/config/scenario.hpp"
#include "loopbridge/testing/catch.hpp"
#include "support/paths.hpp"

using namespace loopbridge;

namespace {

std::string scenario_dir() {
  return lbtest::source_dir() + "/tests/scenarios";
}

/// The `*.yaml` files directly in `dir`, sorted.
std::vector<std::string> yaml_files(const std::string& dir) {
  std::vector<std::string> files;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0)
        files.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The first column of every row of the seed table in docs/scenarios.md, and whether the row
/// says why no scenario covers it: not built, or no scenario possible (it names what covers it).
std::vector<std::pair<std::string, bool>> seed_rows() {
  std::vector<std::pair<std::string, bool>> rows;
  std::istringstream doc{read(lbtest::source_dir() + "/docs/scenarios.md")};
  std::string line;
  bool in_table = false;
  while (std::getline(doc, line)) {
    if (line.rfind("| seed pattern |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table || line.rfind("|---", 0) == 0)
      continue;
    if (line.rfind("| ", 0) != 0)
      break;
    auto end = line.find(" | ", 2);
    rows.emplace_back(line.substr(2, end - 2), line.find("(not built") != std::string::npos ||
                                                   line.find("(no scenario:") != std::string::npos);
  }
  return rows;
}

} // namespace

TEST_CASE("every scenario in tests/scenarios passes", "[scenarios]") {
  auto kinds = actors::builtin_kinds();
  auto files = yaml_files(scenario_dir());
  REQUIRE(files.size() >= 20);
  // A scenario's node runs as `loopbridge node` (the same kinds), with this secret.
  ::setenv("LOOPBRIDGE_NODE_SECRET", "the-scenarios-secret-of-32-chars", 0);
  testing::run_options options;
  options.node_program = lbtest::cli_program();
  for (auto& file : files) {
    DYNAMIC_SECTION(file) {
      testing::check_scenario(file, kinds, options);
    }
  }
}

TEST_CASE("every scenario covers a row of the seed table, and every row is covered",
          "[scenarios]") {
  auto rows = seed_rows();
  REQUIRE(rows.size() == 15);
  std::set<std::string> covered;
  auto kinds = actors::builtin_kinds();
  for (auto& file : yaml_files(scenario_dir())) {
    auto loaded = config::load_scenario(file, kinds);
    REQUIRE(loaded.ok());
    INFO(file << " covers: " << loaded.scenario->covers);
    bool known = std::any_of(rows.begin(), rows.end(),
                             [&](auto& r) { return r.first == loaded.scenario->covers; });
    CHECK(known);
    covered.insert(loaded.scenario->covers);
  }
  for (auto& [row, not_built] : rows) {
    INFO("seed row: " << row);
    CHECK((covered.count(row) == 1 || not_built));
  }
}

TEST_CASE("a scenario's loopback node that cannot start fails the start, saying why",
          "[scenarios]") {
  auto kinds = actors::builtin_kinds();
  auto loaded = config::parse_scenario(R"(scenario: a node that never serves
covers: "ProcessPoolExecutor for CPU-bound work beyond one process"
topology:
  nodes: [{name: side, address: "127.0.0.1:7411"}]
  actors: [{name: far, kind: echo, node: side}]
steps:
  - call: {to: far, request: echo, fields: {payload: hi}}
)",
                                       kinds, "nodes.yaml");
  REQUIRE(loaded.ok());
  auto start_failure = [&](const testing::run_options& options) {
    auto r = testing::run_scenario(*loaded.scenario, kinds, options);
    REQUIRE(r.steps.size() == 1); // nothing else ran
    CHECK(r.steps[0].label == "start the nodes (1)");
    CHECK_FALSE(r.steps[0].passed);
    return r.steps[0].actual;
  };
  testing::run_options none; // no program to run it with
  CHECK(start_failure(none).find("run_options::node_program") != std::string::npos);
  testing::run_options quits;
  quits.node_program = "/bin/false"; // exits at once, serving nothing
  auto why = start_failure(quits);
  CHECK(why.find("node side (/bin/false node) did not serve") != std::string::npos);
  CHECK(why.find("it printed: nothing") != std::string::npos);
}

TEST_CASE("must-fail scenarios fail, each at the step its title names", "[scenarios]") {
  auto kinds = actors::builtin_kinds();
  auto files = yaml_files(scenario_dir() + "/must-fail");
  REQUIRE(files.size() >= 3);
  for (auto& file : files) {
    auto result = testing::run_scenario_file(file, kinds);
    INFO(file << ": " << result.title);
    std::smatch m;
    REQUIRE(std::regex_search(result.title, m, std::regex{R"(must fail at (steps\[\d+\]))"}));
    CHECK_FALSE(result.passed());
    auto* failure = result.first_failure();
    REQUIRE(failure != nullptr);
    INFO(testing::format_step(*failure));
    CHECK(failure->label.rfind(m[1].str() + " ", 0) == 0);
    CHECK_FALSE(failure->expected.empty());
    CHECK_FALSE(failure->actual.empty());
    CHECK(failure->where.find(file + ":") == 0); // file:line:column of the step
    CHECK(&result.steps.back() == failure);      // nothing ran after it
  }
}

TEST_CASE("a malformed scenario gets every problem, located, with did-you-mean", "[scenarios]") {
  auto kinds = actors::builtin_kinds();
  auto r = config::parse_scenario(R"(scenario: typos everywhere
topology:
  actors:
    - {name: echo, kind: echo}
steps:
  - call: {to: ecko, request: echo}
  - call: {to: echo, request: echoo, fields: {payload: 1}}
  - call: {to: echo, request: echo, fields: {paylod: 1}}
  - wait_event: {type: redy, actor: echo}
  - await: nobody
  - cal: {to: echo}
  - call: {to: echo}
    within: soon
    expect_error: failed
)",
                                  kinds, "bad.yaml");
  REQUIRE_FALSE(r.ok());
  auto report = r.report();
  INFO(report);
  CHECK(report.find("bad.yaml:6:16: steps[0].call.to: no actor 'ecko' in the topology (did you "
                    "mean 'echo'?)") != std::string::npos);
  CHECK(report.find("bad.yaml:7:31: steps[1].call.request: kind echo serves no request 'echoo' "
                    "(did you mean 'echo'?)") != std::string::npos);
  CHECK(report.find("steps[2].call.fields.paylod") != std::string::npos);
  CHECK(report.find("did you mean 'payload'?") != std::string::npos);
  CHECK(report.find("bad.yaml:9:24: steps[3].wait_event.type: 'redy' is not allowed (did you mean "
                    "'ready'?)") != std::string::npos);
  CHECK(report.find("bad.yaml:10:12: steps[4].await: no earlier submit is named 'nobody'") !=
        std::string::npos);
  CHECK(report.find("steps[5]: the step names no action") != std::string::npos);
  CHECK(report.find("did you mean 'call'?") != std::string::npos);
  CHECK(report.find("bad.yaml:13:13: steps[6].within") != std::string::npos);
  CHECK(report.find("bad.yaml:12:11: steps[6].call: missing required key 'request' (kind echo "
                    "serves: echo echo_stats)") != std::string::npos);
  CHECK(report.find("steps[6].expect_error: 'failed' is not an error code") != std::string::npos);
  CHECK(r.problems.size() >= 9);
}

TEST_CASE("junit_xml names each scenario and, for a failure, its step and expected vs actual",
          "[scenarios]") {
  auto kinds = actors::builtin_kinds();
  std::vector<testing::scenario_result> results;
  results.push_back(testing::run_scenario_file(scenario_dir() + "/05_context.yaml", kinds));
  results.push_back(
      testing::run_scenario_file(scenario_dir() + "/must-fail/wrong_value.yaml", kinds));
  auto xml = testing::junit_xml(results);
  CHECK(xml.find("tests=\"2\" failures=\"1\"") != std::string::npos);
  CHECK(xml.find("<testcase classname=\"" + scenario_dir() + "/05_context.yaml\"") !=
        std::string::npos);
  CHECK(xml.find("<failure message=\"steps[1] call echo (echo)\">") != std::string::npos);
  CHECK(xml.find("expected: {&quot;payload&quot;: &quot;goodbye&quot;}") != std::string::npos);
}
