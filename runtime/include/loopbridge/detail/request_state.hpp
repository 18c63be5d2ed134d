#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "loopbridge/context.hpp"
#include "loopbridge/detail/ref_ptr.hpp"
#include "loopbridge/detail/type_tag.hpp"
#include "loopbridge/error.hpp"

namespace loopbridge::detail {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

struct actor_record;
class request_state;

/// Receives a notification when a request it listens to completes (completion queues behind
/// `as_completed`, task groups and pollable futures). `notify` runs on whichever thread
/// completes the request and must not block. Reference-counted: a request keeps its listener
/// alive until it is destroyed.
class completion_listener : public ref_counted {
public:
  virtual void notify(std::uintptr_t cookie) noexcept = 0;
};

/// Bookkeeping the event loop keeps inside each request, so tracking a request costs no
/// allocation. Only the event loop's thread reads or writes these fields.
struct loop_links {
  /// `awaiting_room`: submitted from a thread that must not block to an actor with the `block`
  /// policy that was full; not accepted yet, it waits in the loop for a place until its deadline.
  enum class place : std::uint8_t { none, queued, in_flight, awaiting_room };
  request_state* prev = nullptr; ///< neighbours in the target's queue or an instance's list
  request_state* next = nullptr;
  request_state* deadline_prev = nullptr; ///< neighbours in the deadline index bucket
  request_state* deadline_next = nullptr;
  void* deadline_bucket = nullptr;
  time_point accepted_at{};
  place where = place::none;
  bool seen = false; ///< the loop has taken it in once (later arrivals are done reports)
  request_state* stage = nullptr; ///< for a pipeline parent: the stage running now
  std::uint32_t stage_number = 1; ///< for a pipeline stage: 1, 2, ...
  bool reserved_next = false;     ///< a stage holds a place in the next stage's actor
  bool in_stop = false;           ///< undecided when its actor began to stop (the stop's count)
  bool pending = false; ///< still counted in `actor_record::loop_pending` (see `via_loop`)
};

/// The link that lets a request travel through lock-free inboxes (host -> loop -> worker ->
/// loop) without allocating. A request is in at most one inbox at a time.
struct inbox_node {
  std::atomic<inbox_node*> inbox_next{nullptr};
};

/// The state one request shares between the host thread that submitted it, the event loop, and
/// the worker that handles it.
///
/// Completion protocol: exactly one party *claims* the request (`try_claim`): the worker with its
/// reply or error, the loop with a timeout or stop, the host with a cancel. The claimer writes
/// the outcome and then *publishes* it (`publish`), which wakes waiting threads and notifies the
/// listener. Readers that observe `resolved()` (acquire) see the outcome the claimer wrote.
///
/// Everything in the "identity" section is written by the submitter before the state is shared
/// and is immutable afterwards.
class request_state : public ref_counted, public inbox_node {
public:
  static constexpr std::uint32_t claimed_bit = 1u << 0;
  static constexpr std::uint32_t resolved_bit = 1u << 1;
  static constexpr std::uint32_t waiter_bit = 1u << 2;
  static constexpr std::uint32_t listener_bit = 1u << 3;
  static constexpr std::uint32_t cancel_bit = 1u << 4;
  static constexpr std::uint32_t started_bit = 1u << 5;
  static constexpr std::uint32_t settled_bit = 1u << 6;
  static constexpr unsigned outcome_shift = 7; ///< two bits: the `outcome`
  static constexpr std::uint32_t outcome_mask = 3u << outcome_shift;
  static constexpr std::uint32_t suspended_bit = 1u << 9;
  static constexpr std::uint32_t accounted_bit = 1u << 10;
  static constexpr std::uint32_t started_owner_bit = 1u << 31;

  explicit request_state(const type_tag* request_type) noexcept : request_type_(request_type) {}

  // -- identity ------------------------------------------------------------------------------

  const type_tag* request_type() const noexcept { return request_type_; }
  /// Points at the request object inside the typed subclass.
  virtual void* request_data() noexcept = 0;

  std::uint64_t id = 0;
  time_point deadline = time_point::max();
  /// When it was submitted (a route's later stage: when the previous stage's reply arrived).
  time_point submitted{};
  loopbridge::context context;
  const actor_record* target = nullptr;
  /// The submitter took a place in the target's capacity (block policy); the loop gives it back.
  bool admitted = false;
  /// The submitter handed it straight to its actor's lane (`request_lane::push_direct`): the
  /// loop learns of it from its note.
  bool direct = false;
  /// Submitted through the loop to an actor whose lane may open to submitters: counted in
  /// `actor_record::loop_pending` until it reaches the lane or ends.
  bool via_loop = false;
  /// For a stage of a pipeline: the request the host waits on (see `pipeline_parent`).
  ref_ptr<request_state> parent;

  /// For pipeline parents: takes the last stage's reply as its own. False if the types differ.
  virtual bool adopt_reply(request_state& last_stage) noexcept {
    (void)last_stage;
    return false;
  }

  // -- completion ----------------------------------------------------------------------------

  /// How a request ended, decided by whoever claimed it, in the same atomic step as the claim:
  /// every count of requests (metrics, `stopped` events, the shutdown report) reads it, so
  /// they all agree with what the future got.
  enum class outcome : std::uint8_t { none = 0, completed = 1, failed = 2, cancelled = 3 };
  /// The outcome an error stands for: `loop.cancelled` and `loop.stopped` are cancellations.
  static outcome outcome_of(const loopbridge::error& e) noexcept {
    return e.is(errc::cancelled) || e.is(errc::stopped) ? outcome::cancelled : outcome::failed;
  }

  /// Claims the right to complete this request with outcome `o`; true for exactly one caller.
  bool try_claim(outcome o) noexcept {
    auto f = flags_.load(std::memory_order_relaxed);
    do {
      if (f & claimed_bit)
        return false;
    } while (!flags_.compare_exchange_weak(
        f, f | claimed_bit | (static_cast<std::uint32_t>(o) << outcome_shift),
        std::memory_order_acq_rel, std::memory_order_relaxed));
    return true;
  }
  /// The outcome the claimer decided (`none` while unclaimed). Valid as soon as the claim is
  /// visible, before the claimer published the reply or error itself.
  outcome result() const noexcept {
    return static_cast<outcome>((flags_.load(std::memory_order_acquire) & outcome_mask) >>
                                outcome_shift);
  }
  /// Publishes the outcome written by the claimer: wakes waiters and the listener.
  void publish() noexcept;
  /// Claims and publishes `e` as the outcome; false if someone else claimed first.
  bool fail(loopbridge::error e) noexcept {
    if (!try_claim(outcome_of(e)))
      return false;
    error_ = std::move(e);
    failed_ = true;
    publish();
    return true;
  }
  bool resolved() const noexcept { return flags_.load(std::memory_order_acquire) & resolved_bit; }
  /// Waits (spinning) until the claimer published: for the loop, which reads a reply or an
  /// error only after it saw the claim, and claimers publish right after they claim.
  void await_published() const noexcept {
    while (!resolved())
      __builtin_ia32_pause();
  }
  /// Only meaningful once `resolved()`: true if the outcome is an error.
  bool failed() const noexcept { return failed_; }
  const loopbridge::error& error() const noexcept { return error_; }
  /// For claimers only, before `publish()`: records an error outcome instead of the one claimed.
  void set_error(loopbridge::error e) noexcept {
    error_ = std::move(e);
    failed_ = true;
    auto o = static_cast<std::uint32_t>(outcome_of(error_)) << outcome_shift;
    flags_.fetch_and(~outcome_mask, std::memory_order_relaxed);
    flags_.fetch_or(o, std::memory_order_relaxed);
  }

  /// Blocks the calling thread until `resolved()` (a bounded spin, then a futex wait).
  void wait() const noexcept;
  /// Blocks until `resolved()` or `t`; returns `resolved()`.
  bool wait_until(time_point t) const noexcept;

  /// Settled: no worker holds the request any more and the loop stopped tracking it (its
  /// worker reported it done, it left the queue, or its instance was lost). A cancelled running
  /// request is resolved at once but settled only when its worker reports it done.
  bool settled() const noexcept { return flags_.load(std::memory_order_acquire) & settled_bit; }
  /// Called by the loop (or the bridge, for requests it never handed on).
  void mark_settled() noexcept;
  /// Blocks until `settled()` or `t`; returns `settled()`.
  bool wait_settled_until(time_point t) const noexcept;

  // -- cancellation and progress --------------------------------------------------------------

  /// Asks the worker to stop; the worker polls `cancel_requested()`.
  void request_cancel() noexcept { flags_.fetch_or(cancel_bit, std::memory_order_acq_rel); }
  bool cancel_requested() const noexcept {
    return flags_.load(std::memory_order_acquire) & cancel_bit;
  }
  /// The worker instance identified by `token` (nonzero) takes the request from its actor's
  /// lane (under the lane's lock, which publishes it to the loop's later reads).
  void assign_owner(std::uint32_t token) noexcept {
    owner_.store(token, std::memory_order_relaxed);
  }
  /// The token of the instance that took the request, 0 while none did.
  std::uint32_t owner() const noexcept {
    return owner_.load(std::memory_order_acquire) & ~started_owner_bit;
  }
  /// What `mark_started` found.
  enum class start : std::uint8_t {
    started,   ///< the instance runs it now
    revoked,   ///< the loop took it back (its instance was lost): leave it alone
    cancelled, ///< cancelled before it started: it must not run
  };
  /// The worker instance `token` begins handling the request.
  start mark_started(std::uint32_t token) noexcept {
    auto expected = token;
    if (!owner_.compare_exchange_strong(expected, token | started_owner_bit,
                                        std::memory_order_acq_rel))
      return start::revoked;
    auto old = flags_.fetch_or(started_bit, std::memory_order_acq_rel);
    return (old & cancel_bit) == 0 ? start::started : start::cancelled;
  }
  /// The loop takes the request back from instance `token` (which died); true if that instance
  /// never started it, so it may run elsewhere, exactly once.
  bool revoke(std::uint32_t token) noexcept {
    auto expected = token;
    return owner_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
  bool started() const noexcept { return flags_.load(std::memory_order_acquire) & started_bit; }

  /// The instance whose handler returned without answering (its responder waits in a
  /// continuation, a timer or on another thread): marks the request suspended, unless it was
  /// answered already or the loop stopped tracking it. True if marked: the instance then counts
  /// it as suspended, and the loop uncounts it in `close_suspension`.
  bool try_suspend() noexcept {
    auto f = flags_.load(std::memory_order_relaxed);
    do {
      if (f & (claimed_bit | accounted_bit))
        return false;
    } while (!flags_.compare_exchange_weak(f, f | suspended_bit, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    return true;
  }
  /// The loop, as it stops tracking the request in flight: true if it was counted suspended.
  /// After this, `try_suspend` fails.
  bool close_suspension() noexcept {
    return flags_.fetch_or(accounted_bit, std::memory_order_acq_rel) & suspended_bit;
  }

  /// Registers the one listener to notify on completion (at once, if already done). False if
  /// another listener is attached already (a request reports to one queue or group).
  bool attach_listener(ref_ptr<completion_listener> l, std::uintptr_t cookie) noexcept;

  /// Fields owned by the event loop.
  loop_links links;

private:
  const type_tag* request_type_;
  mutable std::atomic<std::uint32_t> flags_{0};
  std::atomic<std::uint32_t> owner_{0}; ///< token of the instance allowed to start it
  bool failed_ = false;
  loopbridge::error error_;
  ref_ptr<completion_listener> listener_;
  std::uintptr_t listener_cookie_ = 0;
};

using request_ref = ref_ptr<request_state>;

/// A request state that can hold a reply of type `R`.
template <class R>
class reply_state : public request_state {
public:
  using request_state::request_state;
  std::optional<R> reply;
};

/// The concrete state of one `Req` request.
template <class Req>
class typed_request_state final : public reply_state<typename Req::reply_type> {
public:
  explicit typed_request_state(Req r)
      : reply_state<typename Req::reply_type>(tag_of<Req>()),
        request(std::move(r)) {}
  void* request_data() noexcept override { return &request; }
  Req request;
};

} // namespace loopbridge::detail
