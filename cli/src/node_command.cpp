// `loopbridge node`: runs one node of a topology, the actors placed on it, for the main
// process to reach through the node's gateway.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "command.hpp"
#include "run_flags.hpp"
#include "topology_runner.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/config/scenario.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/testing/scenario_runner.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* node_usage = R"(usage: loopbridge node --node NAME [--port PORT] TOPOLOGY

Runs node NAME of the topology file: starts the actors placed on it (`node: NAME`) and serves
them on the node's address to the main process (`loopbridge run`, or a host program that starts
the topology). TOPOLOGY may also be a scenario file (its topology; `loopbridge scenario` starts
the nodes of a scenario this way). --port listens on PORT instead of the address's port.
Every connection must prove it knows the secret in the node's variable (`secret_env`, default
LOOPBRIDGE_NODE_SECRET): set the same secret, at least 16 characters, in the environment of
every process.

Prints "node NAME serving ACTORS on HOST:PORT" once it listens. SIGINT or SIGTERM stops it within
the topology's shutdown budget and prints what the stop did.

Exit codes: 0 stopped on a signal, 2 bad arguments or a topology that is invalid or cannot
start here.
)";

/// The actors of `topo` placed on `node`, as a runtime of their own runs them: no placement,
/// and dependencies only on each other (the main process starts the rest).
std::vector<actor_spec> actors_on(const topology& topo, const std::string& node) {
  std::vector<actor_spec> out;
  for (auto& a : topo.actors)
    if (a.node == node)
      out.push_back(a);
  for (auto& a : out) {
    a.node.clear();
    a.resend_lost = false; // the main process's concern: here the actor is local
    std::vector<std::string> kept;
    for (auto& d : a.depends_on)
      for (auto& other : out)
        if (other.name == d)
          kept.push_back(d);
    a.depends_on = std::move(kept);
  }
  return out;
}

/// Waits for SIGINT or SIGTERM (blocked in every thread by `block_interrupts`).
void wait_for_interrupt() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
}

/// What `loopbridge node` was asked: a topology (or scenario) file and a node of it, or what is
/// wrong with the arguments (`error`).
struct node_args {
  std::string file;
  std::string name;
  std::optional<std::uint16_t> port; ///< --port
  std::string error;
};

node_args read_node_args(const std::vector<std::string>& args) {
  node_args out;
  flag_reader r{args};
  while (r.next() && r.error().empty()) {
    if (r.arg() == "--node") {
      if (auto v = r.value())
        out.name = *v;
    } else if (r.arg() == "--port") {
      if (auto v = r.value()) {
        char* end = nullptr;
        auto n = std::strtoul(v->c_str(), &end, 10);
        if (v->empty() || *end != '\0' || n == 0 || n > 65535)
          r.fail("--port takes a port from 1 to 65535, not " + quote(*v));
        else
          out.port = static_cast<std::uint16_t>(n);
      }
    } else if (r.is_flag()) {
      r.fail("unknown option " + quote(r.arg()));
    } else if (!out.file.empty()) {
      r.fail("one topology file at a time (got " + quote(out.file) + " and " + quote(r.arg()) +
             ")");
    } else {
      out.file = r.arg();
    }
  }
  if (r.error().empty() && out.file.empty())
    r.fail("missing the topology file");
  if (r.error().empty() && out.name.empty())
    r.fail("missing --node NAME: which of the topology's nodes this process is");
  out.error = r.error();
  return out;
}

/// The topology of `file`, a topology file or a scenario file; nullopt after printing the
/// topology loader's report if it is neither.
std::optional<topology> load_any(const std::string& file, const kind_registry& kinds) {
  auto loaded = config::load(file, kinds);
  if (loaded)
    return *loaded.topology;
  if (auto scenario = config::load_scenario(file, kinds); scenario)
    return testing::scenario_topology(*scenario.scenario);
  std::fputs(loaded.report().c_str(), stderr);
  return std::nullopt;
}

/// Starts the actors placed on `node` and serves them until SIGINT or SIGTERM; then stops and
/// prints what the stop did. The exit code.
int serve(const topology& topo, node_spec& node, const command_env& env) {
  auto actors = actors_on(topo, node.name);
  auto options = topo.options();
  options.tls = node.tls; // a node is known by its own certificate (runtime.tls is the main's)
  runtime rt{env.kinds, options};
  auto port = [&]() -> result<std::uint16_t> {
    if (auto ok = rt.start(actors); !ok)
      return ok.error();
    return rt.serve_node(node);
  }();
  if (!port) {
    std::fprintf(stderr, "%s node %s: %s\n", env.program.c_str(), node.name.c_str(),
                 port.error().to_string().c_str());
    rt.stop();
    return exit_usage;
  }
  std::string list;
  for (auto& a : actors)
    list += (list.empty() ? "" : ", ") + a.name;
  std::printf("node %s serving %s on %s:%u\n", node.name.c_str(),
              list.empty() ? "no actors" : list.c_str(), node.host.c_str(),
              static_cast<unsigned>(*port));
  std::fflush(stdout);
  wait_for_interrupt();
  std::printf("node %s stopping\n", node.name.c_str());
  std::fflush(stdout);
  auto& report = rt.stop();
  std::printf("%s", report.to_string().c_str());
  return exit_ok;
}

} // namespace

int node_command(const std::vector<std::string>& args, const command_env& env) {
  block_interrupts(); // before any thread exists: only this thread takes the signals
  if (wants_help(args)) {
    print_usage(stdout, node_usage, env);
    return exit_ok;
  }
  auto a = read_node_args(args);
  if (!a.error.empty()) {
    std::fprintf(stderr, "%s node: %s\n\n", env.program.c_str(), a.error.c_str());
    print_usage(stderr, node_usage, env);
    return exit_usage;
  }
  auto topo = load_any(a.file, env.kinds);
  if (!topo)
    return exit_usage;
  node_spec* node = nullptr;
  std::vector<std::string> names;
  for (auto& n : topo->nodes) {
    names.push_back(n.name);
    if (n.name == a.name)
      node = &n;
  }
  if (!node) {
    auto hint = did_you_mean(a.name, names);
    std::fprintf(stderr, "%s node: %s declares no node %s%s\n", env.program.c_str(), a.file.c_str(),
                 quote(a.name).c_str(), hint.empty() ? "" : (" (" + hint + ")").c_str());
    return exit_usage;
  }
  if (a.port)
    node->port = *a.port;
  return serve(*topo, *node, env);
}

} // namespace loopbridge::cli
