#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "loopbridge/events.hpp"

namespace loopbridge {

/// What `runtime::stop` did: each actor's stop (in the order they stopped), how long it all
/// took, and anything it had to leave behind.
struct shutdown_report {
  /// One `stopped` event per actor, in stop order (reverse start order): its reason, how many
  /// requests it completed and how many had to be cancelled. Actors retired before the
  /// runtime stopped are counted in `retired` instead.
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
  std::chrono::nanoseconds took{0};

  /// Nothing left behind and nothing cancelled.
  bool clean() const noexcept;
  /// Requests cancelled across all actors.
  std::uint64_t cancelled() const noexcept;
  /// A multi-line summary for logs.
  std::string to_string() const;
};

} // namespace loopbridge
