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
the nodes of a scenario this way). --port listens on PORT instead of the address's port. Every connection must prove it knows the secret in the node's variable
(`secret_env`, default LOOPBRIDGE_NODE_SECRET): set the same secret, at least 16 characters, in
the environment of every process.

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

} // namespace

int node_command(const std::vector<std::string>& args, const command_env& env) {
  block_interrupts(); // before any thread exists: only this thread takes the signals
  if (wants_help(args)) {
    print_usage(stdout, node_usage, env);
    return exit_ok;
  }
  std::string file;
  std::string name;
  std::optional<std::uint16_t> listen_port; // --port
  flag_reader r{args};
  while (r.next() && r.error().empty()) {
    if (r.arg() == "--node") {
      if (auto v = r.value())
        name = *v;
    } else if (r.arg() == "--port") {
      if (auto v = r.value()) {
        char* end = nullptr;
        auto n = std::strtoul(v->c_str(), &end, 10);
        if (v->empty() || *end != '\0' || n == 0 || n > 65535)
          r.fail("--port takes a port from 1 to 65535, not " + quote(*v));
        else
          listen_port = static_cast<std::uint16_t>(n);
      }
    } else if (r.is_flag()) {
      r.fail("unknown option " + quote(r.arg()));
    } else if (!file.empty()) {
      r.fail("one topology file at a time (got " + quote(file) + " and " + quote(r.arg()) + ")");
    } else {
      file = r.arg();
    }
  }
  if (r.error().empty() && file.empty())
    r.fail("missing the topology file");
  if (r.error().empty() && name.empty())
    r.fail("missing --node NAME: which of the topology's nodes this process is");
  if (!r.error().empty()) {
    std::fprintf(stderr, "%s node: %s\n\n", env.program.c_str(), r.error().c_str());
    print_usage(stderr, node_usage, env);
    return exit_usage;
  }
  auto loaded = config::load(file, env.kinds);
  topology topo;
  if (loaded) {
    topo = *loaded.topology;
  } else if (auto scenario = config::load_scenario(file, env.kinds); scenario) {
    topo = testing::scenario_topology(*scenario.scenario);
  } else {
    std::fputs(loaded.report().c_str(), stderr);
    return exit_usage;
  }
  node_spec* node = nullptr;
  std::vector<std::string> names;
  for (auto& n : topo.nodes) {
    names.push_back(n.name);
    if (n.name == name)
      node = &n;
  }
  if (!node) {
    auto hint = did_you_mean(name, names);
    std::fprintf(stderr, "%s node: %s declares no node %s%s\n", env.program.c_str(), file.c_str(),
                 quote(name).c_str(), hint.empty() ? "" : (" (" + hint + ")").c_str());
    return exit_usage;
  }
  auto actors = actors_on(topo, name);
  if (listen_port)
    node->port = *listen_port;
  auto options = topo.options();
  options.tls = node->tls; // a node is known by its own certificate (runtime.tls is the main's)
  runtime rt{env.kinds, options};
  if (auto ok = rt.start(actors); !ok) {
    std::fprintf(stderr, "%s node %s: %s\n", env.program.c_str(), name.c_str(),
                 ok.error().to_string().c_str());
    rt.stop();
    return exit_usage;
  }
  auto port = rt.serve_node(*node);
  if (!port) {
    std::fprintf(stderr, "%s node %s: %s\n", env.program.c_str(), name.c_str(),
                 port.error().to_string().c_str());
    rt.stop();
    return exit_usage;
  }
  std::string list;
  for (auto& a : actors)
    list += (list.empty() ? "" : ", ") + a.name;
  std::printf("node %s serving %s on %s:%u\n", name.c_str(),
              list.empty() ? "no actors" : list.c_str(), node->host.c_str(),
              static_cast<unsigned>(*port));
  std::fflush(stdout);
  wait_for_interrupt();
  std::printf("node %s stopping\n", name.c_str());
  std::fflush(stdout);
  auto& report = rt.stop();
  std::printf("%s", report.to_string().c_str());
  return exit_ok;
}

} // namespace loopbridge::cli
