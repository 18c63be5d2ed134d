#pragma once

// What every execution mode of a worker instance shares: the instance host (the runtime side
// of one instance: its worker object, its context, running one request). Included by the
// worker actor's translation unit only.

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/stall_detector.hpp"
#include "tuning.hpp"
#include "workers/made_requests.hpp"

#include "loopbridge/context.hpp"
#include "loopbridge/log.hpp"

#include "workers/worker_actor.hpp"

namespace loopbridge::detail {

/// Marks the calling thread as running a dedicated instance of `rec` (thread registry).
void enter_dedicated_instance(const actor_record* rec) noexcept;

/// A task for a worker, boxed to travel in a CAF message.
inline task_box box(worker_context::task fn) {
  return task_box{std::make_shared<worker_context::task>(std::move(fn))};
}

// -- instance_host: what every execution mode shares ----------------------------------------------

/// The runtime side of one worker instance: owns the kind's worker object and implements the
/// `worker_context` it is given.
class instance_host : public worker_context, public std::enable_shared_from_this<instance_host> {
public:
  instance_host(record_ptr rec, std::uint32_t instance, std::uint32_t token,
                std::shared_ptr<runtime_core> core, caf::actor_addr self,
                std::shared_ptr<request_lane> lane)
      : rec_(std::move(rec)),
        instance_(instance),
        token_(token),
        core_(std::move(core)),
        self_(std::move(self)),
        sink_(core_->sink()),
        lane_(std::move(lane)) {}

  ~instance_host() override { close_continuations(); }

  const std::string& actor_name() const noexcept override { return rec_->spec.name; }
  std::uint32_t instance() const noexcept override { return instance_; }
  const loopbridge::params& params() const noexcept override { return rec_->params; }
  void crash(error reason) override { crash_reason_ = std::make_unique<error>(std::move(reason)); }
  void defer_ready() override { deferred_ = true; }
  void ready(value info) override {
    if (!announced_) {
      announced_ = true;
      announce_ready(std::move(info));
    }
  }
  void start_thread(std::string name, std::function<void()> body,
                    std::function<std::string()> describe) override {
    core_->threads().start(std::move(name), std::move(body), std::move(describe));
  }
  void start_failed(error reason) override {
    if (!announced_) {
      announced_ = true;
      auto label = instance_label(*rec_, instance_);
      if (reason.message().rfind(label + ":", 0) != 0)
        reason = error{errc::start_failed,
                       label + ": " +
                           (reason.is(errc::start_failed) ? reason.message() : reason.to_string())};
      announce_start_failed(std::move(reason));
    }
  }
  std::shared_ptr<request_intake> serve_on_own_thread(std::function<void()>) override {
    throw std::logic_error("serve_on_own_thread needs a kind of execution::own_thread");
  }
  void after(duration delay, task fn) override {
    core_->send_later(self_, delay, task_atom::value, box(std::move(fn)));
  }
  void post(task fn) override { core_->send_to(self_, task_atom::value, box(std::move(fn))); }

  // -- requests to other actors (see worker_context) --------------------------------------------

  result<std::shared_ptr<const actor_record>>
  find_actor(std::string_view name, const type_tag* kind,
             std::string_view kind_name) const override {
    return core_->find(name, kind, kind_name);
  }
  std::shared_ptr<bridge> peer_bridge() const override { return core_; }
  void track_request(request_state* st) override {
    rec_->counters.sent.fetch_add(1, std::memory_order_relaxed);
    made_.add(handling_, st);
  }
  void continue_after(request_state* const* states, std::size_t n, bool stop_at_failure,
                      task fn) override {
    for (std::size_t i = 0; i < n; ++i)
      if (!states[i])
        throw std::invalid_argument("then/when_all/gather got an invalid future (member " +
                                    std::to_string(i) + ")");
    // It runs as the code that asked for it: the same request, context and deadline. `j` is
    // the join that posts it (null when there is nothing to wait for); its members — whose
    // futures `fn` holds — keep it alive until `fn` ran.
    auto wrap = [&](request_join* j) {
      return box(task{[this, j, made_for = handling_, ctx = context::current(),
                       deadline = current_request_deadline(), fn = std::move(fn)]() mutable {
        continuation_scope scope{*this, made_for, j ? j->first_failed() : request_join::none};
        context_scope context{ctx};
        request_deadline_scope deadline_scope{deadline};
        fn();
      }});
    };
    if (n == 0) { // nothing to wait for: it runs as the next message
      core_->send_to(self_, task_atom::value, wrap(nullptr));
      return;
    }
    std::vector<const request_state*> members(states, states + n);
    if (!continuations_) // made with the first continuation: most instances never need one
      continuations_ = std::make_shared<continuation_inbox>(core_, self_);
    auto join = make_ref<request_join>(std::move(members), stop_at_failure, continuations_);
    join->arm(wrap(join.get()));
    for (std::size_t i = 0; i < n; ++i)
      if (!states[i]->attach_listener(join, i)) {
        join->abandon();
        throw std::logic_error("a future passed to then/when_all/gather is already watched by a "
                               "completion queue, group or continuation");
      }
  }
  std::size_t first_failed() const noexcept override { return first_failed_; }

  /// Creates the worker (now, or on the instance's own thread) and announces ready.
  virtual void start() = 0;
  /// The loop woke this instance: requests wait in the lane. Called on the actor's thread.
  virtual void drain() {}
  /// The loop says `st` was cancelled. Called on the actor's thread.
  virtual void cancel(request_ref st) = 0;
  /// A task from a timer or `post`. Called on the actor's thread.
  virtual void run_task(task_box& t) = 0;
  /// True once a task made the actor quit (its worker crashed): it runs no more tasks. The
  /// actor's thread.
  virtual bool quitting() const noexcept { return false; }

  /// Runs the continuations due in its inbox (`continue_atom`), up to a turn's worth; asks for
  /// another turn with a message to itself when more wait. Called on the actor's thread.
  void run_continuations() {
    if (!continuations_)
      return;
    continuations_->begin_drain();
    for (std::size_t n = 0; n < continuation_turn; ++n) {
      auto* j = continuations_->pop();
      if (!j)
        return; // empty, or a join mid-push, whose pusher sends the next `continue_atom`
      auto t = j->take_task();
      run_task(t);
      j->release();
      if (quitting())
        return; // the rest is dropped as it exits
    }
    if (continuations_->rearm())
      continuations_->wake();
  }
  /// The instance ends: continuations still due never run (their tasks are dropped), and
  /// joins that fire later drop theirs at once. Called on the actor's thread, after `stop`.
  void close_continuations() noexcept {
    if (continuations_)
      continuations_->close();
  }
  /// The actor is exiting: release the worker. Called on the actor's thread.
  virtual void stop() = 0;

  /// Tells the loop this incarnation ended, `why` being CAF's exit reason: one
  /// `instance_down_atom` message while its actor serves, or a report in the lane's bulk exits
  /// once the actor stopped (no reason is read then). Its actor's thread, as the actor ends
  /// (whether it ran or was dropped before it was launched).
  void report_exit(const caf::error& why) {
    if (lane_->stopped.load(std::memory_order_acquire)) {
      if (lane_->bulk->exits.add({rec_->index, instance_, token_}))
        core_->send_to_loop(exits_atom::value);
      return;
    }
    core_->send_to_loop(instance_down_atom::value, rec_->index, instance_, token_, why);
  }

  bool crashed() const noexcept { return crash_reason_ != nullptr; }
  /// Why the worker crashed; only when `crashed()`.
  const error& crash_reason() const noexcept { return *crash_reason_; }

protected:
  virtual void announce_ready(value info) = 0;
  virtual void announce_start_failed(error reason) = 0;

  /// Cancels the requests made on behalf of request `id`, which ended (cancelled or timed
  /// out). On the instance's own thread.
  void cancel_made_for(std::uint64_t id) {
    made_.cancel_for(id, [&](request_ref st) {
      core_->cancel(std::move(st),
                    error{errc::cancelled, "cancelled: request #" + std::to_string(id) +
                                               ", which it was made for, ended"});
    });
  }
  /// Cancels every request this instance made that is still pending: it stops. On the
  /// instance's own thread (or with it excluded).
  void cancel_all_made() {
    made_.cancel_all([&](request_ref st) {
      core_->cancel(std::move(st),
                    error{errc::cancelled, "cancelled: " + instance_label(*rec_, instance_) +
                                               ", which made it, stopped"});
    });
  }

  /// While a continuation runs: the request it belongs to, and which member failed first.
  class continuation_scope {
  public:
    continuation_scope(instance_host& host, std::uint64_t made_for, std::size_t failed) noexcept
        : host_(host),
          handling_(std::exchange(host.handling_, made_for)),
          failed_(std::exchange(host.first_failed_, failed)) {}
    ~continuation_scope() {
      host_.handling_ = handling_;
      host_.first_failed_ = failed_;
    }
    continuation_scope(const continuation_scope&) = delete;
    continuation_scope& operator=(const continuation_scope&) = delete;

  private:
    instance_host& host_;
    std::uint64_t handling_;
    std::size_t failed_;
  };

  /// Creates the worker; announces ready unless the worker deferred it, or the failure.
  void create_and_announce() {
    lane_->begin_start(instance_);
    auto made = create_worker();
    if (!made.ok())
      start_failed(std::move(made).error());
    else if (adopt(std::move(*made)); !deferred_)
      ready(value{});
  }

  /// Keeps the worker just made. A host whose worker's own thread may already look at it
  /// (`own_thread_host::serve`) takes the lock that thread reads it under.
  virtual void adopt(std::unique_ptr<worker> made) { worker_ = std::move(made); }

  /// Takes the next request from the lane (registering this instance idle if there is none).
  request_ref take() {
    if (room_for(1) == 0)
      return {}; // at its bound: the loop nudges it when a suspended request ends
    request_state* st = nullptr;
    std::shared_ptr<thread_doorbell> next;
    lane_->take(instance_, token_, &st, 1, &next);
    if (next)
      next->ring(); // more wait: the next idle instance of a chained lane takes them
    return request_ref::adopt(st);
  }

  /// Runs one request on the calling thread: a request cancelled before it started is skipped
  /// (it never runs); otherwise the kind's handler runs with the request's context current.
  void run(worker& w, request_ref st, bool delayed = false) {
    if (auto delay = rec_->injected_delay_ns.load(std::memory_order_relaxed);
        delay > 0 && !delayed) { // testing::slow_down: the request waits first
      (void)w;
      after(std::chrono::nanoseconds(delay), [this, st = std::move(st)]() mutable {
        if (worker_) {
          run(*worker_, std::move(st), true);
        } else {
          st->fail(error{errc::worker_failed, "instance is not running"});
          sink_->done(std::move(st));
        }
      });
      return;
    }
    if (!begin(st))
      return;
    auto* entry = rec_->kind->find_request(st->request_type());
    if (!entry) {
      st->fail(error{errc::bad_request, "kind " + rec_->kind->name +
                                            " does not serve request type " +
                                            st->request_type()->info->name()});
      sink_->done(std::move(st));
      return;
    }
    // The handler sees the request's context and deadline as its thread's current ones, so
    // whatever it submits in turn inherits both.
    activity_scope watched{rec_.get(), instance_, st->request_type()};
    context_scope scope{st->context};
    request_deadline_scope deadline_scope{st->deadline};
    continuation_scope handling{*this, st->id, request_join::none};
    request_ref kept = st; // to see, after the handler, whether it answered
    entry->dispatch(w, std::move(st), sink_);
    if (kept->resolved())
      return;
    // Counted before it is marked, so the count never goes below zero: the loop uncounts it
    // only once it sees the mark.
    auto& count = rec_->counters.suspended;
    count.fetch_add(1, std::memory_order_seq_cst);
    if (kept->try_suspend()) {
      if (rec_->spec.max_suspended > 0)
        held_suspended_.push_back(std::move(kept));
      suspended();
    } else {
      count.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  /// Marks `st` started by this incarnation; false (and `st` reported done) when it must not
  /// run: cancelled before it started, or taken back by the loop.
  bool begin(request_ref& st) {
    switch (st->mark_started(token_)) {
      case request_state::start::started:
        return true;
      case request_state::start::cancelled:
        // Whoever cancelled it decided its outcome first; if nobody did (a stop that only
        // raised its token), it ends here, as cancelled: it never runs.
        st->fail(error{errc::cancelled, "cancelled before it started"});
        sink_->done(std::move(st));
        return false;
      case request_state::start::revoked:
        sink_->done(std::move(st)); // the loop drops this late report
        return false;
    }
    return false;
  }

  /// How many more requests this instance may take now: its actor's `max_suspended` bounds the
  /// suspended requests it holds (it takes none at the bound; the loop nudges it when one of
  /// them ends). Unbounded: `max`.
  std::size_t room_for(std::size_t max) {
    auto bound = rec_->spec.max_suspended;
    if (bound == 0)
      return max;
    held_suspended_.erase(std::remove_if(held_suspended_.begin(), held_suspended_.end(),
                                         [](const request_ref& st) { return st->resolved(); }),
                          held_suspended_.end());
    return held_suspended_.size() >= bound
               ? 0
               : std::min<std::size_t>(max, bound - held_suspended_.size());
  }

  /// The handler returned without answering: the request no longer occupies this instance.
  void suspended() {
    if (lane_->starved.load(std::memory_order_seq_cst) &&
        lane_->starved.exchange(false, std::memory_order_seq_cst))
      core_->send_to_loop(pump_atom::value, rec_->index);
  }

  /// Runs a task (a timer, a posted function, a cancel) on the calling thread; an exception is
  /// logged and the instance lives on.
  void run_guarded(const char* what, task& fn) {
    activity_scope watched{rec_.get(), instance_, nullptr};
    try {
      fn();
    } catch (const std::exception& e) {
      LB_LOG(warning, "worker",
             instance_label(*rec_, instance_) << " " << what << " threw: " << e.what());
    } catch (...) {
      LB_LOG(warning, "worker", instance_label(*rec_, instance_) << " " << what << " threw");
    }
  }

  result<std::unique_ptr<worker>> create_worker() {
    activity_scope watched{rec_.get(), instance_, nullptr};
    try {
      return rec_->kind->create(*this);
    } catch (const std::exception& e) {
      return error{errc::start_failed, instance_label(*rec_, instance_) + ": " + e.what()};
    } catch (...) {
      return error{errc::start_failed, instance_label(*rec_, instance_) + ": unknown exception"};
    }
  }

  std::unique_ptr<worker> worker_;
  record_ptr rec_;
  std::uint32_t instance_;
  std::uint32_t token_; ///< identifies this incarnation to the requests it takes
  std::shared_ptr<runtime_core> core_;
  caf::actor_addr self_;
  ref_ptr<completion_sink> sink_;
  std::shared_ptr<request_lane> lane_;
  std::unique_ptr<error> crash_reason_; ///< set when the worker crashed (`crash`)
  made_requests made_;                  ///< requests the worker made that may still be pending
  /// Joins whose continuation is due here; made with the first continuation.
  std::shared_ptr<continuation_inbox> continuations_;
  /// Its suspended requests, kept only when `max_suspended` bounds them (see `room_for`).
  std::vector<request_ref> held_suspended_;
  std::uint64_t handling_ = 0; ///< the request whose handler or continuation runs now
  std::size_t first_failed_ = request_join::none; ///< see `worker_context::first_failed`
  bool deferred_ = false;                         ///< the worker announces ready itself
  bool announced_ = false;                        ///< ready or start_failed was sent
};

} // namespace loopbridge::detail
