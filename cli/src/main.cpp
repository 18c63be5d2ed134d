// The `loopbridge` command: run the demo or a topology's workload; check and graph topology files.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "command.hpp"

namespace {

const char* usage = R"(usage: loopbridge <command> [options] [files]

Commands:
  demo            run the demo pipeline: an embedded origin, one fetcher session, a thumbnail
                  pool and a writer (no network needed)
  run FILE        start a topology file and drive the workload it declares
  scenario FILE...
                  run scenario files: each step PASS/FAIL with expected vs actual (--junit)
  check FILE...   validate topology files; print every problem (file:line:column) or a summary
                  of what would be started
  graph FILE      print the topology as a Graphviz DOT graph (actors, pools, routes, start order)
  schema          print the JSON Schema of topology files (--markdown: the reference tables)

Run `loopbridge <command> --help` for a command's options.

Exit codes: 0 success, 1 problems found (or requests failed), 2 bad arguments or an unusable
topology, 130 interrupted.
)";

} // namespace

namespace loopbridge::cli {

bool wants_help(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "-h" || a == "--help")
      return true;
  return false;
}

} // namespace loopbridge::cli

int main(int argc, char** argv) {
  using namespace loopbridge::cli;
  if (argc < 2) {
    std::fputs(usage, stderr);
    return exit_usage;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(usage, stdout);
    return exit_ok;
  }
  if (cmd == "demo")
    return demo_command(args);
  if (cmd == "run")
    return run_command(args);
  if (cmd == "scenario")
    return scenario_command(args);
  if (cmd == "check")
    return check_command(args);
  if (cmd == "graph")
    return graph_command(args);
  if (cmd == "schema")
    return schema_command(args);
  std::fprintf(stderr, "loopbridge: unknown command '%s'\n\n%s", cmd.c_str(), usage);
  return exit_usage;
}
