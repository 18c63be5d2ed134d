#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/runtime_options.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {

// A topology as plain values (what `config::load` makes and `runtime` starts). Threads: not
// synchronised; copy them, or share them read-only between threads.

/// Sends each reply of actor `from` on to actor `to` as its request (a pipeline stage).
struct route_spec {
  std::string from;
  std::string to;
};

/// What `loopbridge run` drives through a topology: requests for an entry actor, either listed
/// or generated from a template, a total and a concurrency.
struct workload_spec {
  /// The actor that receives the requests (the first stage of a pipeline).
  std::string entry;
  /// The request's YAML name (`echo`, `fetch`, ...).
  std::string request;
  /// Listed requests: one field map each. Used in order, repeated until `total`.
  std::vector<value> requests;
  /// Generated requests: `count`, and `fields`, a field map whose strings may contain
  /// placeholders: `{i}` (the request's index), `{i%N}` (the index modulo N), `${actor.key}`
  /// (field `key` of what `actor` announced when it became ready, e.g. `${origin.url}`).
  value generate;
  /// Fields of each request's context (the same placeholders); route adapters and workers see
  /// them (e.g. the file name a pipeline's last stage writes to).
  value context;
  /// Requests to send in all (default: the listed ones, or the generated count).
  std::uint64_t total = 0;
  /// Requests in flight at once.
  std::uint32_t concurrency = 16;
  /// Deadline of each request (zero: the runtime's default).
  std::chrono::nanoseconds timeout{0};
};

/// Another process for some of the topology's actors to run in (`loopbridge node --node NAME
/// FILE` runs it; `actor_spec::node` places an actor there).
struct node_spec {
  std::string name;
  /// Where the node listens and the main process connects: an IP address or host name (IPv6
  /// in brackets) and a port.
  std::string host;
  std::uint16_t port = 0;
  /// The environment variable holding the secret every connection proves it knows (on both
  /// sides); it is never written in the topology.
  std::string secret_env = "LOOPBRIDGE_NODE_SECRET";
  /// The node's TLS identity; required unless `host` is a loopback address. The main
  /// process connects to it with its own (`runtime_options::tls`), signed by the same CA.
  tls_spec tls;

  /// Whether `host` is this machine's loopback interface (`localhost`, `::1`, an IPv4 address
  /// 127.x.y.z): the only addresses a node may use without TLS, and the nodes the scenario
  /// runner starts itself.
  bool on_loopback() const {
    if (host == "localhost" || host == "::1")
      return true;
    if (host.rfind("127.", 0) != 0)
      return false;
    int dots = 0;
    for (char c : host)
      if (c == '.')
        ++dots;
      else if (c < '0' || c > '9')
        return false;
    return dots == 3;
  }

  /// `host:port`, an IPv6 host in brackets (`[::1]:7401`), as a topology writes it.
  std::string address() const {
    auto shown = host.find(':') == std::string::npos ? host : "[" + host + "]";
    return shown + ":" + std::to_string(port);
  }
};

/// A whole actor system as plain data, as a topology file describes it: runtime settings,
/// actors, routes and a workload. Made by `loopbridge::config::load` (from YAML) or by hand;
/// `runtime` starts it and knows no YAML.
struct topology {
  runtime_options runtime;
  /// Other processes that run some of the actors (`actor_spec::node` names one of them).
  std::vector<node_spec> nodes;
  std::vector<actor_spec> actors;
  std::vector<route_spec> routes;
  std::optional<workload_spec> workload;
  /// Where it came from (a file name), for messages.
  std::string source;

  /// The settings a runtime that starts this topology needs: `runtime`, with the network
  /// loaded when the topology declares nodes.
  runtime_options options() const {
    auto o = runtime;
    o.network = o.network || !nodes.empty();
    return o;
  }
};

} // namespace loopbridge
