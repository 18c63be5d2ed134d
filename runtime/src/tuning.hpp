#pragma once

// How much work one thread does in one go: fixed turn sizes and grace periods.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace loopbridge::detail {

// How much work one thread does in one go before it lets others have a turn. Fixed, not user
// settings: each trades a little throughput for fairness and bounded latency.

/// Messages a scheduled actor handles per turn on a scheduler thread before the thread takes
/// the next runnable actor. One: a worker instance's `drain` message is itself a batch of
/// requests, which ends early when other actors wait for a thread.
inline constexpr std::size_t scheduler_turn = 1;
/// Requests a scheduled instance takes from its lane per `drain` message at most ...
inline constexpr int instance_turn = 16;
/// ... and how long its turn may last while other actors wait for a scheduler thread: it ends
/// the turn after the request that reaches this (a request is never interrupted). Short
/// requests therefore run several per turn, so an instance does not pay a yield per request.
inline constexpr std::chrono::microseconds instance_slice{50};
/// Continuations an instance runs per `continue_atom` message before others get a turn.
inline constexpr std::size_t continuation_turn = 64;
/// Instances the event loop starts or tells to exit, and actors it stops during the runtime's
/// shutdown, per message: the rest follow in messages it sends itself, so requests, stops and
/// timers reach the loop while a million instances start or stop.
inline constexpr std::size_t loop_batch = 1024;
/// Scheduled instances a scheduler thread makes in one go for the event loop
/// (`instance_batch`) ...
inline constexpr std::uint32_t make_batch = 256;
/// ... and such batches out at once per scheduler thread: enough that no thread waits for the
/// loop's next batch, few enough that a stop or shutdown finds little left to undo.
inline constexpr std::size_t make_batches_per_thread = 2;
/// While the event loop starts a burst of instances (`scheduler::burst`), runnable jobs it
/// makes wake a parked scheduler thread only once this many wait beyond the spinning threads:
/// a thread that spins keeps up with a spawn burst, and a futex wake per instance would cost
/// the loop more than starting the instance.
inline constexpr std::size_t burst_wake_backlog = 32;
/// Messages the event loop handles per resume. One: the stall detector times each message on
/// the loop's thread on its own (a `drain` message is itself a bounded batch of requests).
inline constexpr std::size_t loop_turn = 1;
/// Messages the event loop handles in a row before the events they published are offered to
/// subscribers (`publish_batch`): a burst of events costs their readers one wake-up, and no
/// event waits longer than this many messages.
inline constexpr std::size_t loop_stretch = 32;
/// Requests the event loop takes from one of its inboxes per drain message before other
/// messages get a turn.
inline constexpr int loop_drain_budget = 1024;
/// Within such a drain, the requests it handed out reach the actors' lanes after this many
/// reports or submissions at the latest (one lane lock per actor and batch).
inline constexpr int loop_pump_batch = 64;

/// How long a worker's quiet done report may wait for the event loop at most when nothing
/// else wakes it (see `loop_sink`): the loop thread, about to sleep with quiet reports
/// waiting (or while they come densely), sleeps this long and then drains them. Bounds how
/// stale the actors' counters are.
inline constexpr std::chrono::milliseconds report_delay{1};
/// A request goes straight to its actor's lane (`runtime_core::submit_direct`) only if its
/// deadline is at least this far: the loop learns of it within `report_delay`, and must still
/// be in time to time it out.
inline constexpr std::chrono::milliseconds direct_margin{10};

/// Requests the event loop hands to an actor's lane per ready instance of a pool or of an actor
/// on dedicated threads: enough that an instance finds its next request in the lane while the
/// loop is busy elsewhere, instead of waiting for the loop's next turn. The lane is shared, so a
/// request in it never waits behind a running one while an instance is idle; the rest of a
/// backlog waits in the actor's queue.
inline constexpr std::uint32_t lane_share = 64;
/// ... for an actor on dedicated threads whose overflow policy is `drop_oldest`: the request an
/// instance runs and one more, so that the backlog stays in the queue, where `drop_oldest`
/// reaches it (it drops queued requests, never what the lane holds).
inline constexpr std::uint32_t lane_share_drop_oldest = 2;

/// How long `stop()` waits past `shutdown_budget` for the event loop to quit (it resolves
/// everything left at the budget, then waits for its instances to exit) ...
inline constexpr std::chrono::milliseconds stop_loop_grace{100};
/// ... and for the threads outside the scheduler to end (their handlers saw the cancel);
/// `stop()` returns within `shutdown_budget` plus 200 ms, which leaves the rest of the margin
/// for tearing down the actor system.
inline constexpr std::chrono::milliseconds stop_thread_grace{150};

// Nodes: fixed, and the same in every process of a build.

/// How long a connection to a node may take to accept TCP, and then to prove the secret.
inline constexpr std::chrono::seconds node_connect_timeout{3};
/// The pause before the first new attempt after a node was lost; it doubles up to the next.
inline constexpr std::chrono::milliseconds node_retry_first{100};
inline constexpr std::chrono::milliseconds node_retry_most{2000};
/// How often a link pings its node's gateway, and the silence after which either side counts
/// the other as gone (a frozen process, a cut cable: TCP alone notices neither for minutes).
/// The gateway protocol's own liveness (node_protocol.hpp), not CAF's heartbeats.
inline constexpr std::chrono::milliseconds node_heartbeat{1000};
inline constexpr std::chrono::milliseconds node_silence{3000};
/// Calls an instance of a node's actor sends in one message at most, and the bytes after which
/// a message goes without waiting for more (large requests and replies then stream one by
/// one instead of waiting for a whole batch to be written, sent and read).
inline constexpr std::size_t node_batch = 64;
inline constexpr std::size_t node_batch_bytes = 64 * 1024;

} // namespace loopbridge::detail
