#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "loopbridge/events.hpp"

namespace loopbridge {

/// What `runtime::stop` did: each actor's stop (in the order they stopped), how long it all
/// took, and anything it had to leave behind.
struct shutdown_report {
  /// One `stopped` event per actor, in stop order (reverse start order): its reason, what its
  /// stop did (requests completed, failed and cancelled while it stopped, and how many of the
  /// cancelled ones an instance was still running) and its totals since it was spawned. Actors
  /// retired before the runtime stopped are counted in `retired` instead.
  std::vector<stopped_event> actors;
  /// Actors that had stopped and were forgotten before the runtime stopped, not listed in
  /// `actors`: one-shot actors whose task ended (`offload_separate`, `deliver`,
  /// `stream_separate`), and stopped actors whose name went to a new actor.
  std::uint64_t retired = 0;
  /// Threads that did not finish within the budget and were left behind, each with what it
  /// was doing (instance, the request it was running and for how long, what was queued).
  std::vector<std::string> stuck;
  /// True if the event loop itself did not finish within the budget (the actor system was then
  /// left behind too).
  bool loop_stuck = false;
  /// From the call of `stop()` until it returned.
  std::chrono::nanoseconds took{0};

  /// The stop cancelled nothing and left nothing behind.
  bool clean() const noexcept;
  /// Requests the stop cancelled, across all actors.
  std::uint64_t cancelled() const noexcept;
  /// Requests completed while the actors stopped, across all actors.
  std::uint64_t completed() const noexcept;
  /// A multi-line summary for logs.
  std::string to_string() const;
};

} // namespace loopbridge
