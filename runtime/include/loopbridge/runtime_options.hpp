#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "loopbridge/log.hpp"

namespace loopbridge {

/// A process's TLS identity toward other nodes: its certificate, the certificate's key and the
/// CA it trusts (all three together, PEM files; a topology's relative paths are resolved
/// against its folder by the loader). Every TLS connection, in and out, requires a peer whose
/// certificate that CA signed.
struct tls_spec {
  std::string certificate; ///< the process's own certificate (PEM), optionally with its chain
  std::string key;         ///< the certificate's private key (PEM)
  std::string cafile;      ///< the CA that signed every node's certificate (PEM)
  /// The environment variable holding the key's passphrase, for an encrypted key; empty: the
  /// key is not encrypted. The passphrase itself is never written in the topology.
  std::string passphrase_env;
  bool enabled() const noexcept { return !certificate.empty(); }
};

/// Runtime-wide settings (the `runtime` section of a topology).
struct runtime_options {
  /// Threads that run scheduled actors, in parallel (`lb.sched.N`); 0 = one per core. Idle
  /// ones sleep until work arrives and are woken directly.
  std::size_t scheduler_threads = 0;
  /// A handler — or anything on the event loop's thread — that runs longer than this is
  /// reported while it still runs, once per occurrence: a warning log, a `slow_handler` event
  /// and the actor's `slow_handlers` count. A scheduled kind reported here should run on
  /// `dedicated_thread`. 0 turns the detector off.
  std::chrono::nanoseconds slow_handler = std::chrono::milliseconds(100);
  /// Deadline of requests submitted without one.
  std::chrono::nanoseconds default_deadline = std::chrono::seconds(30);
  /// Total time `stop()` may take before it gives up on what is stuck and reports it.
  std::chrono::nanoseconds shutdown_budget = std::chrono::seconds(10);
  /// Mailbox capacity of actors that do not set their own.
  std::size_t default_capacity = 100000;
  /// The most the event-loop thread, and each idle scheduler thread, spins for new work before
  /// it parks (0: park at once). The spin adapts: about as long as recent idle gaps, none when
  /// the thread is really idle. After about 2 µs a spinning thread yields its core at each
  /// step (to a thread that waits for one, if any), so spinning takes no CPU from busy workers
  /// on a small machine.
  std::chrono::nanoseconds loop_spin = std::chrono::microseconds(100);
  /// How long one host thread waiting on a future spins before it parks (0: park at once).
  /// At most one host thread spins at a time, whatever this is. A short spin spares a host
  /// that waits for a quick reply the cost of parking and being woken (docs/benchmarks.md,
  /// bench/host_roundtrip).
  std::chrono::nanoseconds host_spin = std::chrono::microseconds(10);
  /// The actor `runtime::offload` runs functions on; spawned with kind `blocking` (and its
  /// default size) on first use if nothing of that name exists.
  std::string offload_pool = "blocking";
  /// Log threshold; applied process-wide when the runtime starts, unless LOOPBRIDGE_LOG is set.
  log_level log = log_level::warning;
  /// Loads CAF's network layer, so actors may be placed on other nodes (`actor_spec::node`)
  /// or this runtime may serve as one (`runtime::serve_node`). The runtime made from a
  /// topology that declares nodes sets it; not a topology key.
  bool network = false;
  /// This process's TLS identity (needs `network`): the main process's, toward nodes whose
  /// `node_spec::tls` is set (topology key `runtime.tls`); a node's own when it serves one
  /// over TLS (`loopbridge node` sets it from the node's `tls`). Checked when the runtime
  /// starts; a bad one is reported by whatever needs it (placement on a TLS node, serving).
  tls_spec tls;
};

} // namespace loopbridge
