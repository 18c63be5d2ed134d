#pragma once

// The event-loop actor: its state and its handlers (defined in loop/event_loop*.cpp).

#include <deque>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "loop/caf_types.hpp"
#include "loop/deadline_index.hpp"
#include "loop/direct_notes.hpp"
#include "loop/ready_watch.hpp"
#include "loop/request_inbox.hpp"
#include "loop/request_lane.hpp"
#include "loop/request_queue.hpp"
#include "loop/thread_doorbell.hpp"
#include "memory/object_pool.hpp"

#include "loopbridge/events.hpp"

namespace loopbridge::detail {

class runtime_core;
class loop_thread;
class instance_batch;

/// The event-loop actor: the hub between host threads and worker instances.
///
/// Requests reach it through two request inboxes (host submits, and workers' done reports),
/// each woken by one `drain_atom` message per batch); control (spawn, cancel, ready, down, stop)
/// arrives as plain messages. It accepts submitted requests, queues them per target actor,
/// hands them to the actor's `request_lane` (from which its free instances take them) while the
/// actor has fewer in flight than its ready instances may hold, tracks deadlines in one
/// `deadline_index`, forwards cancels, returns credit when workers report a request done,
/// and runs every actor's lifecycle: ready, start failure, ready timeout, draining stop, runtime
/// shutdown in reverse start order. It never blocks, never waits for a reply and never runs a
/// worker's code.
///
/// Invariants: every request the loop accepted is in exactly one place (a target's queue or its
/// in-flight list: in the lane, or taken by one instance) until it is settled, and
/// the loop holds one reference to it meanwhile. For each target,
/// `received = completed + failed + cancelled + queued + in flight` (the actor's counters).
///
/// Outcomes: a request's outcome is decided once, by whoever claims it (its worker, the host's
/// cancel, the loop's deadline or stop); the loop counts it by that claimed outcome when it
/// stops tracking the request, and a pipeline's parent takes it from the same place, so
/// futures, metrics, `stopped` events and the shutdown report agree.
///
/// Retirement: a target that stopped, holds nothing, has no instance left and no route, and
/// that nothing can name any more — a one-shot actor (`stop_after`), or one whose name a new
/// actor took — is retired outside the runtime's shutdown: its slot in `slots_` is freed and
/// the runtime forgets it (its index goes to the next spawn), so a host that runs one-shot
/// tasks or scoped actors forever holds only the live ones. Messages naming a target by index
/// (ready, start failure) and ready deadlines carry the instance's token, unique per
/// incarnation, and are ignored when it does not match; stops and kills carry the record. A request
/// submitted through a handle to a retired actor is answered with its `last_stop`; the loop
/// keeps retired records (`retired_`) until no handle holds them and one complete drain of
/// the submissions inbox has passed since, so such a request never points at freed memory.
class event_loop : public caf::event_based_actor {
public:
  event_loop(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, loop_thread* thread,
             std::shared_ptr<request_inbox> submissions, std::shared_ptr<request_inbox> reports,
             std::shared_ptr<direct_notes> notes);
  caf::behavior make_behavior() override;
  void on_exit() override;
  /// Hands the loop to its own thread instead of the scheduler (see loop_thread).
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  const char* name() const override { return "loopbridge.event_loop"; }

private:
  /// Tokens keep the instance's index in their low bits (instances per actor: at most 2^20).
  static constexpr std::uint32_t instance_bits = 20;
  static constexpr std::uint32_t instance_mask = (1u << instance_bits) - 1;
  static_assert(max_instances <= (1u << instance_bits), "a token names every instance");

  struct instance_slot {
    caf::actor handle;
    std::shared_ptr<thread_doorbell> doorbell; ///< wakes a dedicated thread; else null
    std::uint32_t token = 0;                   ///< ownership token of this incarnation
    std::unique_ptr<error> failure;            ///< why it failed to start, if it did
    bool ready = false;
    bool alive = false;
  };
  enum class phase { serving, draining, stopped };
  /// An actor's stop: made when a stop request arrives or its stop begins, so a serving actor
  /// does not carry it.
  struct stop_progress : pooled {
    time_point deadline = time_point::max();
    std::vector<request_ref> waiters; ///< `stop_request`s to answer when stopped
    error reason;
    /// What it did (see `stopped_event`), over the requests undecided when it began.
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t abandoned = 0;
    bool began = false;
  };
  struct actor_slot : pooled {
    record_ptr record;
    /// The instances spawned so far: reserved for the whole count at the spawn (untouched
    /// memory), grown by a batch per message, so it never moves and a pool's first message does
    /// not fault in a slot for each of a million instances at once.
    std::vector<instance_slot, pooled_allocator<instance_slot>> instances;
    request_queue queue;         ///< accepted, waiting for room in the lane
    request_queue awaiting_room; ///< not accepted yet: waiting for a place (see `await_room`)
    request_queue flying;        ///< handed to the lane, taken or not, not yet done
    std::shared_ptr<request_lane> lane;   ///< shared by the loop and the instances
    std::uint32_t per_instance_limit = 1; ///< in flight per ready instance
    std::uint32_t alive = 0;
    std::uint32_t ready = 0; ///< instances ready now
    std::uint64_t in_flight = 0;
    bool ever_ready = false;
    phase state = phase::serving;
    std::unique_ptr<stop_progress> stop; ///< null until a stop request or its stop began
    std::uint64_t reported = 0;          ///< requests its workers reported done (one-shot actors)
    std::int64_t route_to = -1;          ///< where pipeline stages continue, or -1
    std::vector<std::uint32_t> upstream; ///< targets routing into this one (credit)
    std::vector<time_point> restarts;    ///< restart times within the budget's period
    std::uint32_t restart_count = 0;
    bool replaced = false; ///< a newer actor has its name
    bool pump_due = false; ///< in `pumps_due_`: pumped once at the end of the batch
    bool direct = false;   ///< its lane is open to submitters (`update_direct`)
    bool held_due = false; ///< in `held_due_`: its high-water mark taken at the end of the batch
  };

  // -- handlers --------------------------------------------------------------------------------
  void on_drain();
  /// A submitted request; takes over its reference.
  void on_submit(request_state* st);
  /// Takes `st` in for `t`: counts it received, applies the overflow policy, queues it.
  void accept(actor_slot& t, request_state* st);
  /// `st` (block policy, from a thread that must not block) found `t` full: it waits in
  /// `t.awaiting_room` for a place until its deadline, not yet accepted.
  void await_room(actor_slot& t, request_state* st);
  /// Indexes `st`'s deadline (if it has one) and arms the timer when it is the nearest.
  void watch_deadline(request_state* st);
  /// Takes `st` out of `t.awaiting_room` (and the deadline index).
  void leave_awaiting(actor_slot& t, request_state* st);
  /// Accepts what waits for room while there are places (after places were given back).
  void admit_awaiting(actor_slot& t);
  /// Fails what waits for room with `why` (the actor stops).
  void refuse_awaiting(actor_slot& t, const error& why);
  /// A worker is done with `st`; takes over its reference.
  void on_done(request_state* st);
  void on_cancel(request_ref& ref);
  void on_spawn(record_ptr rec);
  /// Creates the actors committed since the last call, in commit order, until about `budget`
  /// instances were started; sends itself `spawn_atom` for the rest.
  void take_spawns(std::size_t budget);
  /// Starts the instances of `rec` from `first` on. A local scheduled actor's go to
  /// `to_make_`, made on the scheduler's threads in batches (`make_batches`); others start
  /// here, `loop_batch` of them, the rest in a message the loop sends itself: a large pool never
  /// holds the loop for more than one batch. Stops once the actor no longer serves (stopped
  /// meanwhile) or the runtime stops.
  void spawn_instances(const actor_record& rec, std::uint32_t first);
  /// Hands the scheduler batches of the instances in `to_make_` (`instance_batch`), while
  /// fewer than `make_batches_per_thread` per scheduler thread are out. Their slots count them
  /// alive from here on, without a handle until their batch comes back.
  void make_batches();
  /// Whether `t`'s instances still in `to_make_` are to be made: all of them while it serves
  /// and the runtime does not stop; otherwise only while it has none alive and holds requests
  /// (an actor stopping, or waiting for its turn in the shutdown, drains what it accepted).
  bool still_wanted(const actor_slot& t) const;
  /// A batch came back made: launches its instances, unless their actor stopped or they were
  /// killed meanwhile (those are dropped unlaunched and report their exit); then the next
  /// batches.
  void on_made(instance_batch& batch);
  /// Tells the live instances of stopped `rec` from `first` on to exit, `loop_batch` of them
  /// per message, the rest sent to itself.
  void exit_instances(const actor_record& rec, std::uint32_t first);
  void on_ready(std::uint32_t t, std::uint32_t i, std::uint32_t token, value info);
  void on_start_failed(std::uint32_t t, std::uint32_t i, std::uint32_t token, error reason);
  void on_ready_timeout(std::uint32_t t, std::uint32_t i, std::uint32_t token);
  /// Instance `i` of target `t` exited (its incarnation `token`; stale ones are ignored).
  void on_instance_down(std::uint32_t t, std::uint32_t i, std::uint32_t token,
                        const caf::error& reason);
  void on_tick();
  void on_stop_actor(request_ref& ref, record_ptr rec);
  void on_stop_all(time_point deadline);
  void on_kill(const record_ptr& rec, std::uint32_t i);
  void on_route(const record_ptr& from, const record_ptr& to);
  /// Fills `shutdown_order_`: reverse start order, route sources before their targets.
  void plan_shutdown_order();

  // -- requests ----------------------------------------------------------------------------------
  /// Hands queued requests of `t` to its lane while its ready instances have room.
  void pump(actor_slot& t);
  /// `pump(t)` now, or, inside a drain's batch, once for the batch (`pump_due`): the lane
  /// then gets the batch's requests under one lock, and idle instances one wake-up each.
  void pump_soon(actor_slot& t);
  /// Pumps the targets a batch marked (`pump_soon`).
  void pump_due();
  /// Wakes instance `i` of `t`, which waits for work in the lane.
  void wake(actor_slot& t, std::uint32_t i);
  /// The instance of `t` that took `st`, or null (still in the lane).
  instance_slot* holder(actor_slot& t, const request_state& st);
  /// Makes a live instance look at its lane (a drain message, or its doorbell).
  void nudge(instance_slot& inst);
  /// Stops tracking `st`, counts its claimed outcome, then `settle_untracked`.
  void settle(actor_slot& t, request_state* st);
  /// Adds `st`'s claimed outcome to `rec`'s counters.
  static void count_outcome(const actor_record& rec, const request_state& st);
  /// The pipeline `parent` is at `stage`, which is done and goes no further: `parent` takes its
  /// outcome (its error, its reply if it was the last stage, or `loop.stopped`).
  void end_pipeline(request_state& parent, request_state& stage);
  /// The loop is done with `st`: gives back its admission place, tells its pipeline (a failed
  /// stage fails the whole; a stage that will not go on ends it), marks it settled and drops
  /// the loop's reference.
  void settle_untracked(request_state* st);
  /// Gives an admission place back to `rec` (at the end of the batch when batching and `rec` is
  /// still the target at its index).
  void give_back_place(const actor_record& rec);
  void flush_releases();
  /// A pipeline stage (not the last) finished well: the next stage's request, through the
  /// route's adapter.
  request_ref next_stage(actor_slot& t, request_state* st);
  /// The last stage of a pipeline finished well: the parent takes its reply (claimed, not yet
  /// published). False if the parent was already resolved.
  bool adopt_last_stage(actor_slot& t, request_state* st);
  /// Room left in `t` for credit-controlled pipeline stages (block policy).
  bool has_room(const actor_slot& t) const;
  /// Resolves every request `t` holds with `reason`, as the stop's cancellations (a request
  /// whose worker decided it first keeps that outcome). Its stop began (`t.stop` exists).
  void fail_all(actor_slot& t, const error& reason);
  void expire(request_state* st);
  /// `st`, resolved (cancelled or timed out) while in flight: if no instance took it from the
  /// lane yet, withdraws it from there and settles it now (true), so that its end does not wait
  /// for an instance to reach it behind the ones running; false if an instance took it.
  bool withdraw(actor_slot& t, request_state* st);

  // -- lifecycle ---------------------------------------------------------------------------------
  /// The instance terminated: requests it never started go back to the queue, the ones it
  /// was running fail with `reason`.
  void instance_lost(actor_slot& t, std::uint32_t instance, error reason);
  /// Marks `instance` of `t` as gone: no longer alive, ready or awaited, out of the lane.
  void forget_instance(actor_slot& t, std::uint32_t instance);
  /// Puts the requests `instance` took but never started back at the front of `t`'s queue (and,
  /// if no instance is left, those waiting in the lane behind them); fails those it was running.
  void requeue_requests_of(actor_slot& t, std::uint32_t instance, const error& reason);
  /// Applies `t`'s restart policy after losing `instance`: restarts it while the budget lasts,
  /// or stops `t` once the budget is spent. True if it did either.
  bool restart_or_give_up(actor_slot& t, std::uint32_t instance, const error& reason);
  /// Starts a new incarnation of instance `i` of `t`; `self` is the loop's handle and `now`
  /// the time its ready timeout counts from (both taken once for a batch).
  void start_instance(actor_slot& t, std::uint32_t i, const caf::actor& self, time_point now);
  /// Counts a new incarnation of instance `i` of `t` alive (its handle and doorbell still to
  /// be set) and returns its token.
  std::uint32_t begin_incarnation(actor_slot& t, std::uint32_t i);
  /// Watches instance `i` of `t`, just launched, for its ready timeout (counted from `now`).
  void watch_start(actor_slot& t, std::uint32_t i, time_point now);
  /// Starts a draining stop of `t` (new requests are refused; accepted ones finish until
  /// `deadline`, then the rest are cancelled).
  void begin_stop(actor_slot& t, time_point deadline);
  /// `t.stop`, made if there is none yet.
  static stop_progress& stop_of(actor_slot& t);
  /// Marks the requests the stop's own counts are about: those still undecided (once, when the
  /// stop begins). Returns `t.stop`.
  static stop_progress& mark_stop_began(actor_slot& t);
  /// Finishes the stop if `t` is draining and holds nothing.
  void check_drained(actor_slot& t);
  /// Ends `t`: resolves what it still holds with `reason`, stops its instances, announces it.
  void finish_stop(actor_slot& t, error reason);
  /// During runtime shutdown: stops the next target in reverse start order.
  void advance_shutdown();
  /// Once the shutdown is done (every actor stopped, every instance exited): sends itself
  /// `end_atom`, which frees the actors' slots and then quits (`free_slots`).
  void maybe_quit();
  /// Frees `loop_batch` of the actors' slots (a million of them take about a second), sends
  /// itself `end_atom` for the rest, and quits once none is left.
  void free_slots();
  /// Handles the exits waiting in `bulk_->exits`, `loop_batch` of them (each may destroy its
  /// instance's CAF actor here); sends itself `exits_atom` for the rest.
  void take_exits();
  /// Handles the readiness reports waiting in `bulk_->readies`, up to `budget` of them;
  /// sends itself `ready_atom` for the rest. Whatever an instance reports after its readiness
  /// (its exit, a failed start) takes them all first: readiness is never seen after it.
  void take_readies(std::size_t budget);
  /// Publishes whether `t`'s done reports must reach the loop at once
  /// (`actor_record::prompt_reports`): while requests wait for credit or a place, while it
  /// does not serve or the runtime stops, while it is part of a route, and for one-shot actors.
  void update_prompt(actor_slot& t);
  /// Opens `t`'s lane to submitters (`request_lane::push_direct`) while it is a
  /// `direct_capable` actor whose one instance is ready and whose reports need not be prompt
  /// (`prompt`: nothing waits in the loop, it serves, no route); closes it otherwise, and then
  /// takes every note in, so the loop knows each request in flight before it acts on the change.
  void update_direct(actor_slot& t, bool prompt);
  /// Takes in the notes of direct submissions (`on_note`). Before anything that needs to know
  /// every request in flight: a drain, a cancel, a lost instance, a stop, the timer.
  void take_notes();
  /// A request a submitter handed straight to its actor's lane: accepted and in flight, as if
  /// the loop had handed it out (takes over the note's reference).
  void on_note(request_state* st);
  /// `st` (submitted through the loop) reached the lane or ended: it no longer holds back
  /// direct submissions (`actor_record::loop_pending`).
  static void drop_pending(request_state& st) noexcept;
  /// Publishes `t`'s gauges (queued, in flight) and `update_prompt(t)`.
  void publish_gauges(actor_slot& t);
  /// Raises `t`'s `max_held` to what it holds now.
  static void mark_held(actor_slot& t);
  /// `mark_held` for the targets in `held_due_`.
  void mark_held_due();
  /// The live target `rec` stands for, or null (not spawned yet, or retired).
  actor_slot* slot_of(const actor_record& rec) const;
  /// Instance `i` of target `ti` if its incarnation is `token`; else null.
  instance_slot* incarnation(std::uint32_t ti, std::uint32_t i, std::uint32_t token);

  // -- retirement (see the class comment)
  // ----------------------------------------------------------
  /// Notes `t` as one to retire once it qualifies (checked later, at the end of a handler).
  void consider_retiring(const actor_slot& t);
  /// Retires the noted targets that qualify. Only at the end of a message handler: nothing may
  /// hold a reference to a target across it.
  void retire_noted();
  /// Frees retired records nobody else holds, one complete drain after they were seen so.
  void sweep_retired();

  void arm_timer();
  /// The ownership token of instance `i`'s next incarnation (see `request_state::owner`):
  /// the instance's index in the low bits, so a token names its instance.
  static std::uint32_t next_token(std::uint32_t previous, std::uint32_t i) noexcept;

  std::shared_ptr<runtime_core> core_;
  loop_thread* thread_;
  std::shared_ptr<request_inbox> submissions_; ///< from host threads (and nested submits)
  std::shared_ptr<request_inbox> reports_;     ///< done reports from workers
  std::shared_ptr<direct_notes> notes_;        ///< direct submissions, to take in
  std::vector<request_state*> noted_;          ///< `take_notes`' buffer (reused)
  /// Exits and readiness that instances report in bulk (shared with every lane).
  std::shared_ptr<bulk_reports> bulk_ = std::make_shared<bulk_reports>();
  bool batching_ = false;                       ///< admission places are given back per batch
  std::vector<std::uint32_t> pending_releases_; ///< places to give back, by target
  /// The targets with places to give back in `pending_releases_`, each once: a flush visits
  /// only them, not every actor.
  std::vector<std::uint32_t> releasing_;
  std::vector<std::uint32_t> pumps_due_; ///< targets to pump at the end of the batch
  /// Targets whose `max_held` is taken at the end of the batch: within a drain the notes of
  /// direct submissions come in before the done reports that arrived beside them, and a mark
  /// taken in between would count answered requests as held.
  std::vector<std::uint32_t> held_due_;
  time_point now_{}; ///< taken once per drain: cheap timestamps for a batch
  std::vector<std::unique_ptr<actor_slot>> slots_;
  deadline_index deadlines_;
  std::vector<request_state*> batch_; ///< `pump`'s batch for the lane (reused)
  std::vector<std::uint32_t> idle_;   ///< instances `pump` wakes (reused)
  time_point armed_ = time_point::max();
  bool stopping_ = false; ///< the runtime is shutting down
  bool ending_ = false;   ///< the shutdown is done: freeing the slots, then quitting
  time_point shutdown_deadline_ = time_point::max();
  std::vector<std::uint32_t> shutdown_order_; ///< targets still to stop, next at the back
  bool advancing_ = false;                    ///< inside `advance_shutdown`
  std::size_t targets_unstopped_ = 0;         ///< targets not in `phase::stopped`
  std::size_t instances_alive_ = 0;           ///< instances of every target, not yet exited
  std::vector<std::uint32_t> to_retire_;      ///< targets to check at the end of a handler
  std::vector<record_ptr> retired_;           ///< retired, perhaps still held by handles
  std::vector<record_ptr> doomed_;            ///< sole owner since the last complete drain
  /// Instances started and not yet ready (or failed): when their `ready_timeout` ends. Kept
  /// here rather than as a timer message per instance, so an instance that became ready leaves
  /// nothing pending for the whole timeout.
  ready_watch starting_;
  /// Whether the instance of a `starting_` entry still waits for its ready (same incarnation,
  /// neither ready nor failed).
  bool still_starting(const ready_watch::entry& e);
  /// Stop deadlines of draining targets (`target::stop_deadline`), earliest first; a target
  /// leaves it when it stops.
  std::set<std::pair<time_point, std::uint32_t>> stop_deadlines_;
  /// The stopped actor (not yet replaced) that holds each name: a spawn of that name replaces
  /// it, which lets it retire. At most one per name.
  std::unordered_map<std::string, std::uint32_t> stopped_names_;
  std::deque<record_ptr> spawning_; ///< committed, taken from the core, not created yet
  /// Scheduled actors with instances still to make (`make_batches`), in spawn order: the
  /// record and its next instance.
  struct unmade {
    record_ptr record;
    std::uint32_t next;
  };
  std::deque<unmade> to_make_;
  std::size_t batches_out_ = 0; ///< handed to the scheduler, not back yet
};

} // namespace loopbridge::detail
