#include <cstdio>
#include <string>

#include "command.hpp"

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* check_usage = R"(usage: loopbridge check FILE...

Validates each topology file without starting anything. Prints every problem to stderr as
file:line:column: key.path: message (hint), or, for a valid file, a summary of what would be
started to stdout.

Exit codes: 0 every file is valid, 1 some file has problems, 2 bad arguments.
)";

std::string describe(const topology& t) {
  std::string s = std::to_string(t.actors.size()) + " actor" + (t.actors.size() == 1 ? "" : "s");
  for (auto& a : t.actors) {
    s += "\n  " + a.name + ": " + a.kind;
    if (a.count > 1)
      s += " x" + std::to_string(a.count) + " (pool)";
    if (!a.depends_on.empty()) {
      s += ", after";
      for (auto& d : a.depends_on)
        s += " " + d;
    }
  }
  for (auto& r : t.routes)
    s += "\n  route: " + quote(r.from) + " -> " + quote(r.to);
  if (t.workload)
    s += "\n  workload: " + std::to_string(t.workload->total) + " " + quote(t.workload->request) +
         " requests to " + quote(t.workload->entry) + ", " +
         std::to_string(t.workload->concurrency) + " at a time";
  return s;
}

} // namespace

int check_command(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    std::fputs(check_usage, stdout);
    return exit_ok;
  }
  if (args.empty()) {
    std::fputs(check_usage, stderr);
    return exit_usage;
  }
  auto kinds = actors::builtin_kinds();
  int rc = exit_ok;
  for (auto& file : args) {
    auto result = config::load(file, kinds);
    if (!result) {
      std::fputs(result.report().c_str(), stderr);
      std::fprintf(stderr, "%s: %zu problem%s\n", file.c_str(), result.problems.size(),
                   result.problems.size() == 1 ? "" : "s");
      rc = exit_failed;
      continue;
    }
    std::printf("%s: valid; would start %s\n", file.c_str(), describe(*result.topology).c_str());
  }
  return rc;
}

} // namespace loopbridge::cli
