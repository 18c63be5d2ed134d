#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::cli {

/// How `run` and `demo` drive a topology.
struct run_settings {
  /// Shown in progress lines and the summary.
  std::string title = "run";
  /// Write the summary as JSON here too (empty: no).
  std::string json_path;
  /// Progress: a live line when stdout is a terminal, plain lines every `plain_interval`
  /// otherwise; none when quiet.
  bool quiet = false;
  std::chrono::milliseconds plain_interval{2000};
};

/// Blocks SIGINT and SIGTERM in the calling thread, so that every thread started afterwards
/// (libvips' workers, the runtime's) inherits the mask and only `run_topology`'s watcher
/// receives them. Call it first on the main thread of a command that will call `run_topology`:
/// a thread started before it would take the default action (end the process at once). A
/// Ctrl-C before the watcher runs stays pending and is handled as soon as it starts.
void block_interrupts();

/// Starts `topo`, drives its workload with a progress display, stops, prints the summary (and
/// writes the JSON), and returns the exit code: 0 every request succeeded, 1 some failed, 2 the
/// topology could not start or has no workload, 130 interrupted.
///
/// Ctrl-C (SIGINT) or SIGTERM: the first stops sending, stops the runtime gracefully within its
/// shutdown budget and still prints the summary; a second one exits at once with 130.
int run_topology(const topology& topo, const kind_registry& kinds, const run_settings& settings);

} // namespace loopbridge::cli
