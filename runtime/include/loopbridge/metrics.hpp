#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "loopbridge/error.hpp"

namespace loopbridge {

/// A snapshot of one actor's counters, readable from host code at any time
/// (`runtime::metrics`). Counts are since the actor was spawned.
struct actor_metrics {
  std::string name;
  std::string kind;
  std::uint32_t instances = 0;
  /// Requests the event loop accepted for this actor (counted before `submit` returns).
  std::uint64_t received = 0;
  /// Requests answered with a reply. This and the other outcomes, `in_flight` and `max_held`
  /// follow the event loop's view: it takes a worker's report of an answer within 1 ms of the
  /// answer (or sooner, with other traffic), so they may trail a resolved future by that much.
  std::uint64_t completed = 0;
  /// Requests answered with an error (including `loop.timeout` and `loop.worker_failed`).
  std::uint64_t failed = 0;
  /// Requests cancelled by the host or ended by a stop (`loop.cancelled`, `loop.stopped`).
  std::uint64_t cancelled = 0;
  /// Requests waiting in the actor's queue now.
  std::uint64_t queued = 0;
  /// Requests handed to an instance and not finished now.
  std::uint64_t in_flight = 0;
  /// Instances restarted after a failure. A restart is counted after its `restarted_event` is
  /// published, so a subscriber that sees the count finds the event in its inbox.
  std::uint64_t restarts = 0;
  /// Handlers that ran longer than `runtime.slow_handler` (see `slow_handler_event`).
  std::uint64_t slow_handlers = 0;
  /// The most requests it held at once (queued plus in flight): stays within its capacity.
  std::uint64_t max_held = 0;
  /// Requests its workers sent to other actors (`worker_context::submit`, `request`).
  std::uint64_t sent = 0;
  /// Requests in flight whose handler returned without answering yet (suspended: the answer
  /// comes from a continuation, a timer or another thread), now.
  std::uint64_t suspended = 0;
  /// Latency from acceptance to the worker's report, over requests the worker reported done.
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p99{0};
};

/// One node as the process that places actors on it sees it (`runtime::nodes`): its link and
/// the requests its actors' instances here sent there.
struct node_metrics {
  std::string name;
  std::string address; ///< host:port, as the topology writes it
  bool up = false;     ///< connected, and the secret proved both ways, now
  /// Times it came up (the first connection and each rejoin).
  std::uint64_t connects = 0;
  /// Times it was lost after being up (`node_down` events after a `node_up`).
  std::uint64_t losses = 0;
  /// Why it is not up now (the last attempt's error); nullopt while up or never tried.
  std::optional<error> failure;
  /// Requests sent to it, and answers that came back (replies and errors).
  std::uint64_t sent = 0;
  std::uint64_t answered = 0;
  /// Requests that were there when it was lost: each failed with `node.lost`, or, for an
  /// actor with `resend_lost`, waited to be sent again.
  std::uint64_t lost = 0;
  /// Requests sent again after it came back (`actor_spec::resend_lost`).
  std::uint64_t resent = 0;
  /// Requests there now, waiting for their answers.
  std::uint64_t in_flight = 0;
  /// Bytes of request and reply bodies (their wire form) sent to and received from it.
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
};

} // namespace loopbridge
