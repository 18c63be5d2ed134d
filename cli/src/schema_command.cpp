#include <cstdio>
#include <string>

#include "command.hpp"

#include "loopbridge/config/schema.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {
const char* schema_usage = R"(usage: loopbridge schema [--markdown]

Prints the JSON Schema of topology files (with the params of every built-in kind) for editors'
YAML support; with --markdown, the reference tables of docs/topology.md instead. Both are
generated from the same table the loader validates against.
)";
} // namespace

int schema_command(const std::vector<std::string>& args, const command_env& env) {
  if (wants_help(args)) {
    print_usage(stdout, schema_usage, env);
    return exit_ok;
  }
  bool markdown = false;
  for (auto& a : args) {
    if (a == "--markdown") {
      markdown = true;
    } else {
      std::fprintf(stderr, "%s schema: unknown option %s\n\n", env.program.c_str(),
                   quote(a).c_str());
      print_usage(stderr, schema_usage, env);
      return exit_usage;
    }
  }
  const auto& kinds = env.kinds;
  auto text = markdown ? config::markdown_reference(kinds) : config::json_schema(kinds);
  std::fputs(text.c_str(), stdout);
  return exit_ok;
}

} // namespace loopbridge::cli
