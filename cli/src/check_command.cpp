#include <cstdio>
#include <string>

#include "command.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* check_usage = R"(usage: loopbridge check FILE...

Validates each topology file without starting anything. Prints to stdout every problem as
file:line:column: key.path: message (hint), one per line, or, for a valid file, a summary of
what would be started. Only usage errors go to stderr.

Exit codes: 0 every file is valid, 1 some file has problems, 2 bad arguments.
)";

std::string describe(const topology& t) {
  std::string s = std::to_string(t.actors.size()) + " actor" + (t.actors.size() == 1 ? "" : "s");
  for (auto& a : t.actors) {
    s += "\n  " + a.name + ": " + a.kind;
    if (a.count > 1)
      s += " x" + std::to_string(a.count) + " (pool)";
    if (!a.node.empty())
      s += " on node " + a.node;
    if (!a.depends_on.empty()) {
      s += ", after";
      for (auto& d : a.depends_on)
        s += " " + d;
    }
  }
  for (auto& n : t.nodes)
    s += "\n  node " + n.name + ": " + n.address() +
         (n.tls.enabled() ? ", tls (certificate " + n.tls.certificate + ")"
                          : ", loopback without tls") +
         ", secret from $" + n.secret_env + "; start it with `loopbridge node --node " + n.name +
         " FILE`";
  for (auto& r : t.routes)
    s += "\n  route: " + quote(r.from) + " -> " + quote(r.to);
  if (t.workload)
    s += "\n  workload: " + std::to_string(t.workload->total) + " " + quote(t.workload->request) +
         " requests to " + quote(t.workload->entry) + ", " +
         std::to_string(t.workload->concurrency) + " at a time";
  return s;
}

} // namespace

int check_command(const std::vector<std::string>& args, const command_env& env) {
  if (wants_help(args)) {
    print_usage(stdout, check_usage, env);
    return exit_ok;
  }
  if (args.empty()) {
    print_usage(stderr, check_usage, env);
    return exit_usage;
  }
  const auto& kinds = env.kinds;
  int rc = exit_ok;
  for (auto& file : args) {
    auto result = config::load(file, kinds);
    if (!result) {
      std::fputs(result.report().c_str(), stdout);
      std::printf("%s: %zu problem%s\n", printable(file).c_str(), result.problems.size(),
                  result.problems.size() == 1 ? "" : "s");
      rc = exit_failed;
      continue;
    }
    std::printf("%s: valid; would start %s\n", printable(file).c_str(),
                describe(*result.topology).c_str());
  }
  return rc;
}

} // namespace loopbridge::cli
