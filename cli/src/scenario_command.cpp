#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "command.hpp"
#include "run_flags.hpp"

#include "loopbridge/config/scenario.hpp"
#include "loopbridge/testing/scenario_runner.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* scenario_usage = R"(usage: loopbridge scenario [options] FILE...

Runs scenario files (docs/scenarios.md): each starts its topology, runs its steps in order and
prints every step as PASS or FAIL with its time; a failed step shows where it is in the file,
what was expected and what happened, and ends its scenario. A scenario whose topology places
actors on a node on this machine (a loopback address) gets that node started by this program
(`node --node NAME --port PORT FILE`, on a free port) and stopped afterwards; the node's secret
variable must be set.

Options:
  --junit FILE   also write JUnit XML (one testcase per scenario) to FILE
  --quiet        print only failed steps and the totals
  -h, --help     this help

Exit codes: 0 every scenario passed, 1 some failed (or did not load), 2 bad arguments.
)";

/// Gives each node of the scenario in `file` on this machine whose secret variable is unset a
/// random secret, which the nodes the runner starts inherit. Before any runtime's threads.
void secrets_for_local_nodes(const std::string& file, const kind_registry& kinds) {
  auto loaded = config::load_scenario(file, kinds);
  if (!loaded)
    return; // the run reports the problems
  for (auto& node : loaded.scenario->topo.nodes) {
    if (!node.on_loopback() || std::getenv(node.secret_env.c_str()))
      continue;
    std::random_device random;
    std::string secret;
    for (int i = 0; i < 32; ++i)
      secret += "0123456789abcdef"[random() % 16];
    ::setenv(node.secret_env.c_str(), secret.c_str(), 0);
  }
}

/// This program's path, so a scenario's nodes run with the same kinds.
std::string own_program() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
}

} // namespace

int scenario_command(const std::vector<std::string>& args, const command_env& env) {
  if (wants_help(args)) {
    print_usage(stdout, scenario_usage, env);
    return exit_ok;
  }
  std::string junit;
  bool quiet = false;
  std::vector<std::string> files;
  flag_reader r{args};
  while (r.next() && r.error().empty()) {
    if (r.arg() == "--junit") {
      if (auto v = r.value())
        junit = *v;
    } else if (r.arg() == "--quiet" || r.arg() == "-q") {
      quiet = true;
    } else if (r.is_flag()) {
      r.fail("unknown option " + quote(r.arg()));
    } else {
      files.push_back(r.arg());
    }
  }
  if (r.error().empty() && files.empty())
    r.fail("no scenario files given");
  if (!r.error().empty()) {
    std::fprintf(stderr, "%s scenario: %s\n\n", env.program.c_str(), r.error().c_str());
    print_usage(stderr, scenario_usage, env);
    return exit_usage;
  }

  const auto& kinds = env.kinds;
  std::vector<testing::scenario_result> results;
  for (auto& file : files) {
    std::printf("%s\n", file.c_str());
    std::fflush(stdout);
    secrets_for_local_nodes(file, kinds);
    testing::run_options options;
    options.node_program = own_program(); // it knows the same kinds
    options.on_step = [&](const testing::step_result& s) {
      if (!quiet || !s.passed)
        std::printf("  %s\n", testing::format_step(s).c_str());
      std::fflush(stdout);
    };
    results.push_back(testing::run_scenario_file(file, kinds, options));
    auto& res = results.back();
    std::printf("  => %s%s%s\n", res.passed() ? "passed" : "FAILED", res.title.empty() ? "" : ": ",
                res.title.c_str());
  }
  std::size_t failed = 0;
  for (auto& res : results)
    failed += res.passed() ? 0 : 1;
  std::printf("\n%zu scenario%s, %zu passed, %zu failed\n", results.size(),
              results.size() == 1 ? "" : "s", results.size() - failed, failed);
  if (!junit.empty()) {
    std::ofstream out{junit};
    out << testing::junit_xml(results);
    if (!out) {
      std::fprintf(stderr, "%s scenario: cannot write %s\n", env.program.c_str(), junit.c_str());
      return exit_usage;
    }
  }
  return failed == 0 ? exit_ok : exit_failed;
}

} // namespace loopbridge::cli
