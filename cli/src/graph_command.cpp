#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "command.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/graph.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* graph_usage = R"(usage: loopbridge graph FILE

Prints the topology as a Graphviz DOT graph on stdout: one node per actor (pools drawn as
stacked boxes with their instance count), solid edges for routes (the pipeline), dashed edges
for depends_on, and each actor's position in the start order; actors placed on other nodes
are drawn inside a dashed cluster per node. Render it with
`loopbridge graph FILE | dot -Tsvg > topology.svg`.

Exit codes: 0 done, 1 the file has problems (printed to stderr), 2 bad arguments.
)";

/// `s` as a DOT string literal (double quotes, `"` and `\\` escaped).
std::string dot_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/// Start waves, numbered from 1: the order `runtime::start` brings actors up (dependencies
/// first). The loader refused cycles and unknown names; O(actors + dependencies).
std::unordered_map<std::string, std::size_t> start_waves(const topology& t) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < t.actors.size(); ++i)
    index.emplace(t.actors[i].name, i);
  std::vector<std::vector<std::size_t>> edges(t.actors.size());
  for (std::size_t i = 0; i < t.actors.size(); ++i)
    for (auto& d : t.actors[i].depends_on)
      if (auto it = index.find(d); it != index.end())
        edges[i].push_back(it->second);
  auto order = order_graph(edges);
  std::unordered_map<std::string, std::size_t> wave;
  for (std::size_t w = 0; w < order.waves.size(); ++w)
    for (auto i : order.waves[w])
      wave.emplace(t.actors[i].name, w + 1);
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
  // Actors placed on another node are drawn inside that node's cluster.
  auto draw = [&](const actor_spec& a, const char* indent) {
    std::string label = a.name + "\\n" + a.kind;
    if (a.count > 1)
      label += " x" + std::to_string(a.count);
    label += "\\nstart " + std::to_string(waves[a.name]);
    std::printf("%s%s [label=\"%s\"%s];\n", indent, dot_string(a.name).c_str(), label.c_str(),
                a.count > 1 ? ", style=\"rounded,filled\", fillcolor=\"#eef3fb\", peripheries=2"
                            : "");
  };
  for (auto& a : t.actors)
    if (a.node.empty())
      draw(a, "  ");
  for (std::size_t n = 0; n < t.nodes.size(); ++n) {
    auto& node = t.nodes[n];
    std::printf("  subgraph %s {\n    label=%s;\n    style=dashed;\n",
                dot_string("cluster_node_" + std::to_string(n)).c_str(),
                dot_string("node " + node.name + " (" + node.address() +
                           (node.tls.enabled() ? ", tls" : "") + ")")
                    .c_str());
    for (auto& a : t.actors)
      if (a.node == node.name)
        draw(a, "    ");
    std::printf("  }\n");
  }
  if (t.workload) {
    std::printf("  \"workload\" [shape=plaintext, label=\"workload\\n%llu x %s\"];\n",
                static_cast<unsigned long long>(t.workload->total), t.workload->request.c_str());
    std::printf("  \"workload\" -> %s [style=bold];\n", dot_string(t.workload->entry).c_str());
  }
  for (auto& r : t.routes)
    std::printf("  %s -> %s [style=bold, label=\"route\"];\n", dot_string(r.from).c_str(),
                dot_string(r.to).c_str());
  for (auto& a : t.actors)
    for (auto& d : a.depends_on)
      std::printf("  %s -> %s [style=dashed, color=gray40, label=\"depends on\"];\n",
                  dot_string(a.name).c_str(), dot_string(d).c_str());
  std::printf("}\n");
  return exit_ok;
}

} // namespace loopbridge::cli
