#include <cstdio>
#include <string>

#include "command.hpp"

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/config/schema.hpp"

namespace loopbridge::cli {

namespace {
const char* schema_usage = R"(usage: loopbridge schema [--markdown]

Prints the JSON Schema of topology files (with the params of every built-in kind) for editors'
YAML support; with --markdown, the reference tables of docs/topology.md instead. Both are
generated from the same table the loader validates against.
)";
} // namespace

int schema_command(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(schema_usage, stdout);
    return exit_ok;
  }
  bool markdown = false;
  for (auto& a : args) {
    if (a == "--markdown") {
      markdown = true;
    } else {
      std::fprintf(stderr, "loopbridge schema: unknown option '%s'\n\n%s", a.c_str(), schema_usage);
      return exit_usage;
    }
  }
  auto kinds = actors::builtin_kinds();
  auto text = markdown ? config::markdown_reference(kinds) : config::json_schema(kinds);
  std::fputs(text.c_str(), stdout);
  return exit_ok;
}

} // namespace loopbridge::cli
