#pragma once

#include <cstdint>
#include <string>

#include <atomic>
#include <memory>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/detail/latency_histogram.hpp"
#include "loopbridge/events.hpp"
#include "loopbridge/execution.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge {
struct kind_descriptor;
} // namespace loopbridge

namespace loopbridge::detail {

class request_lane;

/// Live counters of one actor: written by the event loop (relaxed atomics, one writer), read by
/// any thread for a metrics snapshot.
struct actor_counters {
  /// Written by the loop and by submitters that hand a request straight to the actor's lane
  /// (`count_received`): counted before the submission returns, whichever way it went.
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> queued{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> restarts{0};
  /// Handlers reported by the stall detector (written by its thread).
  std::atomic<std::uint64_t> slow_handlers{0};
  /// The most requests held at once (queued plus in flight): a high-water mark.
  std::atomic<std::uint64_t> max_held{0};
  /// Requests its workers sent to other actors (`worker_context::submit`): written by its
  /// instances (atomic adds).
  std::atomic<std::uint64_t> sent{0};
  /// Requests suspended now (handlers returned, answers to come): its instances count up as a
  /// handler returns without answering, the loop counts down as it stops tracking one. The
  /// loop hands out that many more requests than its instances' limit (`event_loop::pump`).
  std::atomic<std::int64_t> suspended{0};
  latency_histogram latency;

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// Counts one request received (several writers, see `received`).
  static void count_received(actor_counters& c) noexcept {
    c.received.fetch_add(1, std::memory_order_relaxed);
  }
};

/// Room in an actor with the `block` overflow policy: how many requests it holds (accepted or
/// admitted, not yet finished). Submitters take a place before handing a request over and wait
/// for room when it is full; the event loop gives places back. See `admission.hpp`.
struct admission_state {
  std::atomic<std::int64_t> occupancy{0};
  std::atomic<std::uint32_t> generation{0}; ///< futex word, bumped when room frees up
  std::atomic<std::uint32_t> waiters{0};
};

/// The runtime's record of one spawned actor. Created by `runtime::spawn`, immutable
/// afterwards (except its counters) and shared by host threads (handles) and the event loop.
/// Once the actor stopped and nothing can name it any more (a finished one-shot actor, or one
/// whose name went to a new actor), the loop *retires* it: the runtime forgets it and the
/// record lives only as long as handles to it do (they answer with its `last_stop`).
/// (The loop takes its own reference from a request's raw `target` pointer when that request
/// overtakes the spawn message, hence `enable_shared_from_this`.)
struct actor_record : std::enable_shared_from_this<actor_record> {
  actor_spec spec;
  const kind_descriptor* kind = nullptr;
  loopbridge::params params;
  loopbridge::execution mode = loopbridge::execution::scheduled;
  /// Position in the event loop's table of targets. Positions are reused once an actor is
  /// retired (see `event_loop`), so the spawn order is `sequence`, not this.
  std::uint32_t index = 0;
  /// Spawn order: counts up across the runtime's life, never reused.
  std::uint64_t sequence = 0;
  /// Effective capacity (the spec's, or the runtime default).
  std::size_t capacity = 0;
  /// Written by the event loop only.
  mutable actor_counters counters;
  /// Places taken by submitters (block policy only).
  mutable admission_state admission;
  /// Injected by `testing::slow_down`: nanoseconds each request waits before it runs.
  mutable std::atomic<std::int64_t> injected_delay_ns{0};
  /// What instance 0 announced in its latest `ready` event (a port, a URL), or null if it
  /// announced nothing: written by the event loop, read by `runtime::ready_info`, each with
  /// `std::atomic_store` / `std::atomic_load`.
  mutable std::shared_ptr<const value> ready_info;
  /// Set by the event loop when the actor stopped, before its `stopped` event goes out: from
  /// then on its name may be spawned again (see `runtime_core::name_in_use`).
  mutable std::atomic<bool> stopped{false};
  /// Set by the event loop while it needs this actor's done reports as soon as they are made
  /// (requests wait for the credit they free, the actor stops, feeds a route or is one-shot);
  /// otherwise a worker's report waits for the loop's next drain (see `loop_sink`).
  mutable std::atomic<bool> prompt_reports{true};
  /// Whether submitters may ever hand its requests straight to its lane: one local instance
  /// (scheduled or on a thread of its own), the `block` policy, not one-shot. Set before the record
  /// is shared.
  bool direct_capable = false;
  /// The lane submitters may push to directly while the event loop keeps it open (see
  /// `request_lane::push_direct`), or null; `direct_keep` holds it alive as long as the record.
  /// Set once by the event loop, for a `direct_capable` actor.
  mutable std::atomic<request_lane*> direct_lane{nullptr};
  mutable std::shared_ptr<request_lane> direct_keep;
  /// Requests submitted through the loop that have not reached the lane yet (or ended), for an
  /// actor with a `direct_lane`: a submitter goes direct only when none is, so that a thread's
  /// requests reach the lane in the order it submitted them.
  mutable std::atomic<std::int64_t> loop_pending{0};
  /// Handlers of this actor's dedicated instances blocked waiting on a request to this same
  /// actor (see `blocking_wait`).
  mutable std::atomic<std::uint32_t> self_waits{0};
  /// What its stop announced; written once by the event loop before `stopped` is set, read by
  /// the event loop and, once `stopped` is seen set, by host threads (answers for requests and
  /// stops that reach a retired actor). Null until then: a running actor does not carry the
  /// room for it. A `shared_ptr` so that it can come from the runtime's object pool (its control
  /// block holds the pool's allocator); nothing else shares it.
  mutable std::shared_ptr<const stopped_event> last_stop;

  /// `last_stop`, or an empty report while there is none. The event loop, or a thread that saw
  /// `stopped` set.
  stopped_event stop_report() const { return last_stop ? *last_stop : stopped_event{}; }
};

} // namespace loopbridge::detail
