#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "loopbridge/log.hpp"

namespace loopbridge {

/// Runtime-wide settings (the `runtime` section of a topology).
struct runtime_options {
  /// Scheduler threads for scheduled actors; 0 = CAF's default, max(cores, 4).
  std::size_t scheduler_threads = 0;
  /// How often an idle scheduler thread wakes to look for work queued behind a busy one (values
  /// below 1 ms count as 1 ms). Work that arrives from outside the scheduler (the loop, timers,
  /// dedicated threads, host threads) wakes an idle thread at once whatever this is; only a
  /// message one scheduled actor sends another, queued on a thread that stays busy, waits up to
  /// this long for an idle thread to take it. CAF's own default is 10 ms: 100 wake-ups a second
  /// from every idle scheduler thread, which is what an idle runtime would cost.
  std::chrono::nanoseconds scheduler_idle_poll = std::chrono::milliseconds(100);
  /// Deadline of requests submitted without one.
  std::chrono::nanoseconds default_deadline = std::chrono::seconds(30);
  /// Total time `stop()` may take before it gives up on what is stuck and reports it.
  std::chrono::nanoseconds shutdown_budget = std::chrono::seconds(10);
  /// Mailbox capacity of actors that do not set their own.
  std::size_t default_capacity = 100000;
  /// The most the event-loop thread spins for new work before it parks (0: park at once). The
  /// spin adapts: about as long as recent idle gaps, none when the loop is really idle. After
  /// about 2 µs a spinning thread yields its core at each step (to a thread that waits for
  /// one, if any), so spinning takes no CPU from busy workers on a small machine.
  /// Measured: a two-stage pipeline one item at a time, 26 us -> 11.5 us (docs/benchmarks.md).
  std::chrono::nanoseconds loop_spin = std::chrono::microseconds(100);
  /// How long one host thread waiting on a future spins before it parks (0: park at once).
  /// At most one host thread spins at a time, whatever this is. Measured: 10 µs cuts the
  /// median round trip from ~14 µs to ~3.5 µs when host and loop run on different cores.
  std::chrono::nanoseconds host_spin = std::chrono::microseconds(10);
  /// The actor `runtime::offload` runs functions on; spawned with kind `blocking` (and its
  /// default size) on first use if nothing of that name exists.
  std::string offload_pool = "blocking";
  /// Log threshold; applied process-wide when the runtime starts, unless LOOPBRIDGE_LOG is set.
  log_level log = log_level::warning;
};

} // namespace loopbridge
