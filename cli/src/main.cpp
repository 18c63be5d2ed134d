// loopbridge::cli::main: the command line, for any set of kinds. Dispatches to one subcommand.
#include "loopbridge/cli/main.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "command.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

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
  node --node NAME FILE
                  run one node of a topology: the actors placed on it, served to the main
                  process through the node's gateway
  schema          print the JSON Schema of topology files (--markdown: the reference tables)

Run `loopbridge <command> --help` for a command's options.

Exit codes: 0 success, 1 problems found (or requests failed), 2 bad arguments or an unusable
topology, 130 interrupted.
)";

struct subcommand {
  const char* name;
  command_fn run;
};

const subcommand subcommands[] = {
    {"demo", demo_command},   {"run", run_command},     {"scenario", scenario_command},
    {"check", check_command}, {"graph", graph_command}, {"schema", schema_command},
    {"node", node_command},
};

std::string program_name(const char* argv0) {
  std::string p = argv0 && *argv0 ? argv0 : "loopbridge";
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

} // namespace

bool wants_help(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a == "-h" || a == "--help")
      return true;
  return false;
}

void print_usage(std::FILE* to, const char* text, const command_env& env) {
  // Every mention of the program in the usage texts is "loopbridge " (the command, a space).
  std::string out = text;
  const std::string from = "loopbridge ";
  for (auto at = out.find(from); at != std::string::npos;
       at = out.find(from, at + env.program.size() + 1))
    out.replace(at, from.size(), env.program + " ");
  std::fputs(out.c_str(), to);
}

int main(int argc, char** argv, const kind_registry& kinds) {
  command_env env{program_name(argc > 0 ? argv[0] : nullptr), kinds};
  if (argc < 2) {
    print_usage(stderr, usage, env);
    return exit_usage;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    print_usage(stdout, usage, env);
    return exit_ok;
  }
  for (auto& sub : subcommands)
    if (cmd == sub.name)
      return sub.run(args, env);
  std::fprintf(stderr, "%s: unknown command %s\n\n", env.program.c_str(), quote(cmd).c_str());
  print_usage(stderr, usage, env);
  return exit_usage;
}

} // namespace loopbridge::cli
