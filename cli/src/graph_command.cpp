#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "command.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* graph_usage = R"(usage: loopbridge graph FILE

Prints the topology as a Graphviz DOT graph on stdout: one node per actor (pools drawn as
stacked boxes with their instance count), solid edges for routes (the pipeline), dashed edges
for depends_on, and each actor's position in the start order. Render it with
`loopbridge graph FILE | dot -Tsvg > topology.svg`.

Exit codes: 0 done, 1 the file has problems (printed to stderr), 2 bad arguments.
)";

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/// Start waves: the order `runtime::start` brings actors up (dependencies first).
std::map<std::string, int> start_waves(const topology& t) {
  std::map<std::string, int> wave;
  for (std::size_t round = 0; round <= t.actors.size(); ++round)
    for (auto& a : t.actors) {
      int w = 1;
      for (auto& d : a.depends_on)
        w = std::max(w, wave.count(d) ? wave[d] + 1 : 1);
      wave[a.name] = w;
    }
  return wave;
}

} // namespace

int graph_command(const std::vector<std::string>& args, const command_env& env) {
  if (wants_help(args)) {
    print_usage(stdout, graph_usage, env);
    return exit_ok;
  }
  if (args.size() != 1) {
    print_usage(stderr, graph_usage, env);
    return exit_usage;
  }
  auto result = config::load(args[0], env.kinds);
  if (!result) {
    std::fputs(result.report().c_str(), stderr);
    return exit_failed;
  }
  auto& t = *result.topology;
  auto waves = start_waves(t);
  std::printf("digraph topology {\n");
  std::printf("  rankdir=LR;\n  node [fontname=\"Helvetica\", shape=box, style=rounded];\n");
  std::printf("  edge [fontname=\"Helvetica\", fontsize=10];\n");
  for (auto& a : t.actors) {
    std::string label = a.name + "\\n" + a.kind;
    if (a.count > 1)
      label += " x" + std::to_string(a.count);
    label += "\\nstart " + std::to_string(waves[a.name]);
    std::printf("  %s [label=\"%s\"%s];\n", quote(a.name).c_str(), label.c_str(),
                a.count > 1 ? ", style=\"rounded,filled\", fillcolor=\"#eef3fb\", peripheries=2"
                            : "");
  }
  if (t.workload) {
    std::printf("  \"workload\" [shape=plaintext, label=\"workload\\n%llu x %s\"];\n",
                static_cast<unsigned long long>(t.workload->total), t.workload->request.c_str());
    std::printf("  \"workload\" -> %s [style=bold];\n", quote(t.workload->entry).c_str());
  }
  for (auto& r : t.routes)
    std::printf("  %s -> %s [style=bold, label=\"route\"];\n", quote(r.from).c_str(),
                quote(r.to).c_str());
  for (auto& a : t.actors)
    for (auto& d : a.depends_on)
      std::printf("  %s -> %s [style=dashed, color=gray40, label=\"depends on\"];\n",
                  quote(a.name).c_str(), quote(d).c_str());
  std::printf("}\n");
  return exit_ok;
}

} // namespace loopbridge::cli
