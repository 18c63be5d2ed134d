// The topology's keys: every key of every section with its type, default, range and doc — the
// one table the loader, `loopbridge schema`, the docs and did-you-mean read.
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/config/schema.hpp"

namespace loopbridge::config {

namespace {

key_doc k(std::string section, std::string key, std::string type, std::string fallback,
          std::string doc) {
  key_doc d;
  d.section = std::move(section);
  d.key = std::move(key);
  d.type = std::move(type);
  d.fallback = std::move(fallback);
  d.doc = std::move(doc);
  return d;
}
key_doc required(key_doc d) {
  d.required = true;
  return d;
}
key_doc range(key_doc d, std::optional<long long> min, std::optional<long long> max) {
  d.min = min;
  d.max = max;
  return d;
}
key_doc choices(key_doc d, std::vector<std::string> c) {
  d.choices = std::move(c);
  return d;
}

} // namespace

const std::vector<key_doc>& topology_keys() {
  static const std::vector<key_doc> keys = {
      k("", "runtime", "map", "", "Runtime-wide settings."),
      required(k("", "actors", "list", "",
                 "The actors to start, in any order (dependencies first "
                 "is decided from depends_on).")),
      k("", "routes", "list", "", "Pipelines: each reply of one actor goes on to another."),
      k("", "workload", "map", "", "What `loopbridge run` drives through the topology."),
      k("", "nodes", "list", "",
        "Other processes to place actors on (`node` of an actor): each runs `loopbridge node "
        "--node NAME FILE`; off loopback they need TLS."),

      range(k("runtime", "scheduler_threads", "integer", "0",
              "Threads that run scheduled actors, in parallel; 0 = one per core."),
            0, 256),
      k("runtime", "slow_handler", "duration", "100ms",
        "A handler (or anything on the event loop's thread) running longer than this is "
        "reported while it runs: a warning, a slow_handler event and a metrics count; 0 = "
        "off."),
      k("runtime", "default_deadline", "duration", "30s",
        "Deadline of requests submitted without one."),
      k("runtime", "shutdown_budget", "duration", "10s",
        "Total time a shutdown may take; what is stuck after it is left behind and reported."),
      range(k("runtime", "default_capacity", "integer", "100000",
              "Mailbox capacity of actors that set none."),
            1, 1000000000),
      choices(k("runtime", "log_level", "enum", "warning", "Log threshold (LOOPBRIDGE_LOG wins)."),
              {"trace", "debug", "info", "warning", "error", "off"}),
      k("runtime", "loop_spin", "duration", "100us",
        "The most the event-loop thread and each idle scheduler thread spin for new work "
        "before they park (adaptive)."),
      k("runtime", "host_spin", "duration", "10us",
        "How long one host thread waiting on a future spins before it parks."),
      k("runtime", "tls", "map", "",
        "The main process's TLS identity toward nodes that use TLS (required when one does; a "
        "node process uses its own `tls` instead); relative paths start from the topology "
        "file's folder."),
      required(k("runtime.tls", "certificate", "string", "",
                 "The main process's certificate (PEM), signed by the nodes' CA.")),
      required(k("runtime.tls", "key", "string", "",
                 "The certificate's private key (PEM; encrypted only with passphrase_env).")),
      required(k("runtime.tls", "cafile", "string", "",
                 "The CA that signed the certificates of every node (PEM).")),
      k("runtime.tls", "passphrase_env", "string", "",
        "The environment variable holding the key's passphrase, for an encrypted key; the "
        "passphrase itself is never written in the topology."),

      required(k("actors[]", "name", "name", "",
                 "Unique name; a letter, then letters, digits, '_', '-' or '.'.")),
      required(k("actors[]", "kind", "string", "", "The actor kind (see the kinds below).")),
      range(k("actors[]", "count", "integer", "",
              "Instances behind the name; more than one makes a pool. Default: 1, or the "
              "kind's own (image_processor: the cores + 1; blocking: the cores + 4, at most 32)."),
            1, max_instances),
      k("actors[]", "mailbox", "map", "", "Bounds on the requests the actor holds."),
      k("actors[]", "restart", "restart", "never",
        "`never`, `on_failure`, or a map with policy, max_restarts and period."),
      k("actors[]", "depends_on", "names", "",
        "Actors that must be ready before this one starts (and stop after it)."),
      k("actors[]", "ready_timeout", "duration", "10s",
        "How long each instance may take to announce ready, counted from when its start "
        "begins (time spent waiting for a thread does not count); it fails between one and "
        "two timeouts after that."),
      range(k("actors[]", "max_suspended", "integer", "0",
              "Requests one instance may hold suspended (its handler returned, the answer comes "
              "later from a continuation, a timer or another thread) before it takes no new "
              "request until one ends; 0: bounded by the mailbox's capacity only."),
            0, 1000000000),
      k("actors[]", "params", "params", "", "The kind's parameters (see the kinds below)."),
      k("actors[]", "node", "name", "",
        "The node the actor runs on (one of nodes); unset: the main process. Kinds whose "
        "requests have no wire form (offloaded functions, types without inspect) stay in the "
        "main process."),
      k("actors[]", "resend_lost", "boolean", "false",
        "For an actor on a node: requests in flight there when the node is lost are sent again "
        "once it is back (each within its deadline) instead of failing with node.lost. Only "
        "for idempotent kinds: such a request may run twice."),

      range(k("actors[].mailbox", "capacity", "integer", "runtime.default_capacity",
              "Requests accepted and not yet finished (queued plus in flight)."),
            1, 1000000000),
      choices(k("actors[].mailbox", "overflow", "enum", "block",
                "When full: block the submitter up to its deadline, reject the new request, or "
                "drop the oldest queued one (both with loop.overloaded)."),
              {"block", "reject", "drop_oldest"}),

      choices(
          k("actors[].restart", "policy", "enum", "never", "Restart a failed instance, or not."),
          {"never", "on_failure"}),
      range(k("actors[].restart", "max_restarts", "integer", "3",
              "Restarts allowed within period before the actor stops."),
            0, 1000000),
      k("actors[].restart", "period", "duration", "60s", "The window max_restarts counts in."),

      required(k("routes[]", "from", "string", "", "The actor whose replies are sent on.")),
      required(k("routes[]", "to", "string", "", "The actor that receives them as requests.")),

      required(k("workload", "entry", "string", "", "The actor that receives the requests.")),
      k("workload", "request", "string", "",
        "The request's name (required when the entry's kind serves more than one)."),
      k("workload", "requests", "requests", "",
        "Listed requests: one map of fields each (sent in order, repeated up to total)."),
      k("workload", "generate", "map", "",
        "Generated requests: a count and a map of fields whose strings may contain {i}."),
      range(k("workload", "total", "integer", "",
              "Requests to send in all (default: the listed or generated count)."),
            1, std::nullopt),
      range(k("workload", "concurrency", "integer", "16", "Requests in flight at once."), 1,
            100000),
      k("workload", "timeout", "duration", "",
        "Deadline of each request (default: "
        "runtime.default_deadline)."),
      k("workload", "context", "map", "",
        "Context fields of each request (placeholders as in generate.fields); route adapters "
        "and workers see them."),

      required(range(k("workload.generate", "count", "integer", "", "How many requests."), 1,
                     100000000)),
      k("workload.generate", "fields", "fields", "",
        "The request's fields. In strings, `{i}` becomes the request's index, `{i%N}` the index "
        "modulo N, and `${actor.key}` a field the actor announced when it became ready "
        "(`${origin.url}`)."),

      required(k("nodes[]", "name", "name", "",
                 "Unique name; a letter, then letters, digits, '_', '-' or '.'.")),
      required(k("nodes[]", "address", "string", "",
                 "host:port (IPv6 in brackets) the node listens on and the main process "
                 "connects to. Any address but a loopback one needs tls.")),
      k("nodes[]", "secret_env", "string", "LOOPBRIDGE_NODE_SECRET",
        "The environment variable holding the secret every connection to the node proves it "
        "knows, on both sides (at least 16 characters); the secret itself is never written in "
        "the topology."),
      k("nodes[]", "tls", "map", "",
        "The node's TLS identity (required off loopback): every connection to it is TLS, and "
        "both sides must hold a certificate the other's cafile accepts; "
        "relative paths start from the topology file's folder."),
      required(k("nodes[].tls", "certificate", "string", "", "The node's certificate (PEM).")),
      required(k("nodes[].tls", "key", "string", "",
                 "The certificate's private key (PEM; encrypted only with passphrase_env).")),
      required(k("nodes[].tls", "cafile", "string", "",
                 "The CA that signed the certificates of every node (PEM).")),
      k("nodes[].tls", "passphrase_env", "string", "",
        "The environment variable holding the key's passphrase, for an encrypted key; the "
        "passphrase itself is never written in the topology."),
  };
  return keys;
}

std::vector<std::string> keys_of(std::string_view section) {
  std::vector<std::string> out;
  for (auto& d : topology_keys())
    if (d.section == section)
      out.push_back(d.key);
  return out;
}

} // namespace loopbridge::config
