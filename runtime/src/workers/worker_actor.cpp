// Worker instances and their hosts: scheduled, dedicated and I/O-driven.
#include "workers/worker_actor.hpp"

#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/stall_detector.hpp"
#include "tuning.hpp"

#include "loopbridge/context.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void enter_dedicated_instance(const actor_record* rec) noexcept;

namespace {

thread_local worker_actor* tl_current = nullptr;

/// Marks the calling thread as running `w`'s handler for the scope.
class current_scope {
public:
  explicit current_scope(worker_actor* w) noexcept : previous_(tl_current) { tl_current = w; }
  ~current_scope() { tl_current = previous_; }
  current_scope(const current_scope&) = delete;
  current_scope& operator=(const current_scope&) = delete;

private:
  worker_actor* previous_;
};

class loop_sink final : public completion_sink {
public:
  loop_sink(std::weak_ptr<runtime_core> core, std::shared_ptr<request_inbox> inbox)
      : core_(std::move(core)),
        inbox_(std::move(inbox)) {}
  void finished(request_ref st) noexcept override {
    if (!inbox_->push(st.detach()))
      return; // the loop is already awake for an earlier one
    if (auto* w = worker_actor::current())
      w->wake_loop();
    else if (auto core = core_.lock())
      core->send_to_loop(drain_atom::value);
  }

private:
  std::weak_ptr<runtime_core> core_;
  std::shared_ptr<request_inbox> inbox_;
};

task_box box(worker_context::task fn) {
  return task_box{std::make_shared<worker_context::task>(std::move(fn))};
}

} // namespace

ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core,
                                        std::shared_ptr<request_inbox> loop_inbox) {
  return make_ref<loop_sink>(std::move(core), std::move(loop_inbox));
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

  const std::string& actor_name() const noexcept override { return rec_->spec.name; }
  std::uint32_t instance() const noexcept override { return instance_; }
  const loopbridge::params& params() const noexcept override { return rec_->params; }
  void crash(error reason) override {
    crash_reason_ = std::move(reason);
    crashed_ = true;
  }
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

  /// Creates the worker (now, or on the instance's own thread) and announces ready.
  virtual void start() = 0;
  /// The loop woke this instance: requests wait in the lane. Called on the actor's thread.
  virtual void drain() {}
  /// The loop says `st` was cancelled. Called on the actor's thread.
  virtual void cancel(request_ref st) = 0;
  /// A task from a timer or `post`. Called on the actor's thread.
  virtual void run_task(task_box& t) = 0;
  /// The actor is exiting: release the worker. Called on the actor's thread.
  virtual void stop() = 0;

  bool crashed() const noexcept { return crashed_; }
  const error& crash_reason() const noexcept { return crash_reason_; }

protected:
  virtual void announce_ready(value info) = 0;
  virtual void announce_start_failed(error reason) = 0;

  /// Creates the worker; announces ready unless the worker deferred it, or the failure.
  void create_and_announce() {
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
    request_state* st = nullptr;
    lane_->take(instance_, token_, &st, 1);
    return request_ref::adopt(st);
  }

  /// Runs one request on the calling thread: a request cancelled before it started is skipped
  /// (it never runs); otherwise the kind's handler runs with the request's context current.
  void run(worker& w, request_ref st, bool delayed = false) {
    if (auto delay = rec_->injected_delay_ns.load(std::memory_order_relaxed);
        delay > 0 && !delayed) { // runtime::slow_down: the request waits first
      (void)w;
      after(std::chrono::nanoseconds(delay), [this, st = std::move(st)]() mutable {
        if (worker_) {
          run(*worker_, std::move(st), true);
        } else {
          st->fail(error{errc::worker_failed, "instance is not running"});
          sink_->finished(std::move(st));
        }
      });
      return;
    }
    switch (st->mark_started(token_)) {
      case request_state::start::started:
        break;
      case request_state::start::cancelled:
        // Whoever cancelled it decided its outcome first; if nobody did (a stop that only
        // raised its token), it ends here, as cancelled: it never runs.
        st->fail(error{errc::cancelled, "cancelled before it started"});
        sink_->finished(std::move(st));
        return;
      case request_state::start::revoked:
        sink_->finished(std::move(st)); // the loop drops this late report
        return;
    }
    auto* entry = rec_->kind->find_request(st->request_type());
    if (!entry) {
      st->fail(error{errc::bad_request, "kind " + rec_->kind->name +
                                            " does not serve request type " +
                                            st->request_type()->info->name()});
      sink_->finished(std::move(st));
      return;
    }
    // The handler sees the request's context and deadline as its thread's current ones, so
    // whatever it submits in turn inherits both.
    activity_scope watched{rec_.get(), instance_, st->request_type()};
    context_scope scope{st->context};
    request_deadline_scope deadline_scope{st->deadline};
    entry->dispatch(w, std::move(st), sink_);
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
  bool crashed_ = false;
  error crash_reason_;
  bool deferred_ = false;  ///< the worker announces ready itself
  bool announced_ = false; ///< ready or start_failed was sent
};

// -- scheduled: the worker runs inside the actor's handlers ---------------------------------------

class scheduled_host : public instance_host {
public:
  scheduled_host(worker_actor* self, record_ptr rec, std::uint32_t instance, std::uint32_t token,
                 std::shared_ptr<runtime_core> core, std::shared_ptr<request_lane> lane)
      : instance_host(std::move(rec), instance, token, std::move(core), self->address(),
                      std::move(lane)),
        self_ptr_(self) {}

  void start() override { create_and_announce(); }
  void announce_ready(value info) override {
    self_ptr_->send(self_ptr_->loop_, ready_atom::value, rec_->index, instance_, token_,
                    std::move(info));
    ready_ = true;
    self_ptr_->send(self_ptr_, drain_atom::value); // take what waits; else register idle
  }
  void announce_start_failed(error reason) override {
    self_ptr_->send(self_ptr_->loop_, start_failed_atom::value, rec_->index, instance_, token_,
                    reason);
    self_ptr_->quit(to_exit_reason(reason));
  }
  void drain() override {
    if (!worker_ || !ready_ || crashed_)
      return;
    // A single instance takes a turn's worth at once (one lock); an instance of a pool takes
    // one at a time, so whichever instance is free runs the next request.
    std::size_t batch = rec_->spec.count == 1 ? static_cast<std::size_t>(instance_turn) : 1;
    auto turn_began = std::chrono::steady_clock::now();
    for (int ran = 0; ran < instance_turn; ++ran) {
      if (pending_.empty()) {
        request_state* taken[instance_turn];
        auto n = lane_->take(instance_, token_, taken, batch);
        if (n == 0)
          return; // idle: the loop wakes it when a request arrives
        for (std::size_t k = 0; k < n; ++k)
          pending_.push_back(request_ref::adopt(taken[k]));
      }
      auto st = std::move(pending_.front());
      pending_.pop_front();
      run(*worker_, std::move(st));
      if (crashed_) {
        self_ptr_->quit(to_exit_reason(crash_reason_));
        return; // what it did not take stays in the lane for the other instances
      }
      if (scheduler::others_waiting() &&
          std::chrono::steady_clock::now() - turn_began >= instance_slice)
        break; // yield the thread between requests
    }
    self_ptr_->send(self_ptr_, drain_atom::value); // the turn is over: others run first
  }
  void cancel(request_ref st) override {
    if (worker_) {
      task fn{[this, id = st->id] { worker_->on_cancel(id); }};
      run_guarded("on_cancel", fn);
    }
    quit_if_crashed();
  }
  void run_task(task_box& t) override {
    if (worker_ && t.fn && *t.fn)
      run_guarded("task", *t.fn);
    quit_if_crashed();
  }
  void stop() override {
    pending_.clear(); // taken, never started: the loop runs them elsewhere or resolves them
    worker_.reset();
  }

protected:
  void quit_if_crashed() {
    if (crashed_)
      self_ptr_->quit(to_exit_reason(crash_reason_));
  }

  worker_actor* self_ptr_;
  bool ready_ = false;              ///< takes requests only once it announced ready
  std::deque<request_ref> pending_; ///< taken from the lane in a batch, not run yet
};

// -- own thread: the worker serves requests on a thread it owns -----------------------------------

class own_thread_host;

/// The intake an own-thread worker's thread serves through; outlives the host safely.
class own_intake final : public request_intake {
public:
  explicit own_intake(std::weak_ptr<own_thread_host> host) : host_(std::move(host)) {}
  bool serve(std::size_t budget) override;

private:
  std::weak_ptr<own_thread_host> host_;
};

class own_thread_host final : public scheduled_host {
public:
  own_thread_host(worker_actor* self, record_ptr rec, std::uint32_t instance, std::uint32_t token,
                  std::shared_ptr<runtime_core> core, std::shared_ptr<request_lane> lane,
                  std::shared_ptr<thread_doorbell> doorbell)
      : scheduled_host(self, std::move(rec), instance, token, std::move(core), std::move(lane)),
        door_(std::move(doorbell)) {}

  std::shared_ptr<request_intake> serve_on_own_thread(std::function<void()> wake) override {
    door_->set_wake(std::move(wake));
    intake_ =
        std::make_shared<own_intake>(std::static_pointer_cast<own_thread_host>(shared_from_this()));
    return intake_;
  }

  void start() override {
    create_and_announce();
    if (worker_ && !intake_)
      start_failed(error{errc::start_failed, "kind " + rec_->kind->name +
                                                 " runs on its own thread but its worker never "
                                                 "called serve_on_own_thread"});
  }
  // The worker may announce from its own thread: no sends through the actor here.
  void announce_ready(value info) override {
    core_->send_to_loop(ready_atom::value, rec_->index, instance_, token_, std::move(info));
    own_ready_.store(true, std::memory_order_release);
    door_->ring(); // its thread takes what waits, or registers idle
  }
  void announce_start_failed(error reason) override {
    core_->send_to_loop(start_failed_atom::value, rec_->index, instance_, token_, reason);
    core_->send_to(self_, crash_atom::value, std::move(reason));
  }
  void cancel(request_ref st) override {
    push([id = st->id](worker& w) { w.on_cancel(id); });
  }
  void run_task(task_box& t) override {
    if (t.fn)
      push([fn = t.fn](worker&) { (*fn)(); });
  }
  void stop() override {
    door_->clear_wake(); // the wake-up may belong to the worker that goes now
    std::unique_ptr<worker> gone;
    {
      std::lock_guard<std::mutex> serving{serve_mutex_}; // waits for a `serve` under way
      std::lock_guard<std::mutex> guard{tasks_mutex_};
      gone = std::move(worker_);
      tasks_.clear();
      closed_ = true;
    }
    lane_->leave(instance_);
  }

  /// The worker's own thread may call `serve` while its constructor still runs here.
  void adopt(std::unique_ptr<worker> made) override {
    std::lock_guard<std::mutex> serving{serve_mutex_};
    worker_ = std::move(made);
  }

  /// See `request_intake::serve`. On the worker's own thread.
  bool serve(std::size_t budget) {
    std::lock_guard<std::mutex> serving{serve_mutex_};
    if (!own_ready_.load(std::memory_order_acquire) || !worker_ || crashed_)
      return false;
    std::deque<std::function<void(worker&)>> tasks;
    {
      std::lock_guard<std::mutex> guard{tasks_mutex_};
      tasks.swap(tasks_);
    }
    for (auto& fn : tasks) {
      task bound{[&] { fn(*worker_); }};
      run_guarded("task", bound);
    }
    for (std::size_t n = 0; n < budget && !crashed_; ++n) {
      auto st = take();
      if (!st)
        return false; // idle: the doorbell calls `wake` when a request arrives
      run(*worker_, std::move(st));
    }
    if (crashed_) {
      core_->send_to(self_, crash_atom::value, crash_reason_);
      return false;
    }
    return true;
  }

private:
  void push(std::function<void(worker&)> fn) {
    {
      std::lock_guard<std::mutex> guard{tasks_mutex_};
      if (closed_)
        return;
      tasks_.push_back(std::move(fn));
    }
    door_->ring();
  }

  std::shared_ptr<thread_doorbell> door_;
  std::shared_ptr<own_intake> intake_;
  std::atomic<bool> own_ready_{false};
  std::mutex serve_mutex_; ///< serialises `serve` with `stop`
  std::mutex tasks_mutex_; ///< guards `tasks_` and `closed_`
  std::deque<std::function<void(worker&)>> tasks_;
  bool closed_ = false;
};

bool own_intake::serve(std::size_t budget) {
  auto host = host_.lock();
  return host && host->serve(budget);
}

// -- dedicated thread: the worker runs on a thread of its own -------------------------------------

class dedicated_host final : public instance_host {
public:
  dedicated_host(record_ptr rec, std::uint32_t instance, std::uint32_t token,
                 std::shared_ptr<runtime_core> core, caf::actor_addr self,
                 std::shared_ptr<request_lane> lane, std::shared_ptr<thread_doorbell> doorbell)
      : instance_host(std::move(rec), instance, token, std::move(core), std::move(self),
                      std::move(lane)),
        door_(std::move(doorbell)) {}

  void start() override {
    auto self = std::static_pointer_cast<dedicated_host>(shared_from_this());
    auto name = "lb." + rec_->spec.name + "." + std::to_string(instance_);
    core_->threads().start(
        name, [self, name] { self->thread_main(name); }, [self] { return self->describe(); });
  }
  void cancel(request_ref st) override {
    push([this, id = st->id] { worker_->on_cancel(id); });
  }
  void run_task(task_box& t) override {
    if (t.fn)
      push(std::move(*t.fn));
  }
  /// After this returns the thread takes nothing more from the lane (it checks `stopping_`
  /// under the doorbell's mutex before each take).
  void stop() override {
    {
      std::lock_guard<std::mutex> guard{door_->mutex};
      stopping_ = true;
      tasks_.clear();
      door_->cv.notify_all();
    }
    lane_->leave(instance_);
  }

private:
  void push(task fn) {
    std::lock_guard<std::mutex> guard{door_->mutex};
    if (stopping_)
      return;
    tasks_.push_back(std::move(fn));
    door_->cv.notify_one();
  }

  void announce_ready(value info) override {
    core_->send_to_loop(ready_atom::value, rec_->index, instance_, token_, std::move(info));
    std::lock_guard<std::mutex> guard{door_->mutex};
    ready_ = true;
    door_->rung = true; // take what waits, or register idle
    door_->cv.notify_one();
  }
  void announce_start_failed(error reason) override {
    core_->send_to_loop(start_failed_atom::value, rec_->index, instance_, token_, reason);
    core_->send_to(self_, crash_atom::value, reason);
    std::lock_guard<std::mutex> guard{door_->mutex};
    stopping_ = true;
    tasks_.clear();
  }

  /// The next thing to do, waiting for it: a task first (cancels must not queue behind
  /// requests), then the next request from the lane. False when the instance stops.
  bool next_work(task& next, request_ref& st) {
    auto* stalls = core_->stalls();
    std::unique_lock<std::mutex> guard{door_->mutex};
    for (;;) {
      if (stopping_)
        return false;
      if (!tasks_.empty()) {
        next = std::move(tasks_.front());
        tasks_.pop_front();
        return true;
      }
      if (ready_ && door_->rung) {
        door_->rung = false;
        guard.unlock();
        st = take(); // none: registered idle, and the next push rings again
        guard.lock();
        if (st) {
          if (stopping_) { // stopped meanwhile: the loop resolves it
            st = request_ref{};
            return false;
          }
          running_id_ = st->id;
          running_since_ = clock::now();
          door_->rung = true; // look again after this one
          return true;
        }
        continue;
      }
      if (stalls)
        stalls->dozing();
      door_->cv.wait(guard);
      if (stalls)
        stalls->woke();
    }
  }

  void thread_main(const std::string& name) {
    enter_dedicated_instance(rec_.get());
    auto* stalls = core_->stalls();
    if (stalls)
      stalls->attach(name);
    create_and_announce();
    for (;;) {
      task next;
      request_ref st;
      if (!next_work(next, st))
        break;
      if (st) {
        run(*worker_, std::move(st));
        std::lock_guard<std::mutex> guard{door_->mutex};
        running_id_ = 0;
      } else {
        run_guarded("task", next);
      }
      if (crashed_) {
        core_->send_to(self_, crash_atom::value, crash_reason_);
        break;
      }
    }
    lane_->leave(instance_);
    worker_.reset();
    if (stalls)
      stalls->detach();
  }

  std::string describe() {
    std::lock_guard<std::mutex> guard{door_->mutex};
    std::string s = "instance " + instance_label(*rec_, instance_);
    if (running_id_ != 0) {
      auto secs = std::chrono::duration<double>(clock::now() - running_since_).count();
      s += ", running request #" + std::to_string(running_id_) + " for " +
           std::to_string(secs).substr(0, 5) + "s";
    }
    s += ", " + std::to_string(tasks_.size()) + " queued";
    return s;
  }

  std::shared_ptr<thread_doorbell> door_;
  std::deque<task> tasks_;
  bool stopping_ = false;
  bool ready_ = false; ///< guarded by the doorbell's mutex: takes requests once ready
  std::uint64_t running_id_ = 0;
  time_point running_since_{};
};

// -- worker_actor ---------------------------------------------------------------------------------

worker_actor::worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance,
                           std::uint32_t token, caf::actor loop, std::shared_ptr<runtime_core> core,
                           std::shared_ptr<request_lane> lane,
                           std::shared_ptr<thread_doorbell> doorbell)
    : caf::event_based_actor(cfg),
      loop_(std::move(loop)) {
  switch (rec->mode) {
    case execution::dedicated_thread:
      host_ = std::make_shared<dedicated_host>(std::move(rec), instance, token, std::move(core),
                                               address(), std::move(lane), std::move(doorbell));
      break;
    case execution::own_thread:
      host_ =
          std::make_shared<own_thread_host>(this, std::move(rec), instance, token, std::move(core),
                                            std::move(lane), std::move(doorbell));
      break;
    case execution::scheduled:
      host_ = std::make_shared<scheduled_host>(this, std::move(rec), instance, token,
                                               std::move(core), std::move(lane));
      break;
  }
}

worker_actor::~worker_actor() = default;

worker_actor* worker_actor::current() noexcept {
  return tl_current;
}

void worker_actor::wake_loop() {
  send(loop_, drain_atom::value);
}

caf::behavior worker_actor::make_behavior() {
  {
    current_scope scope{this};
    host_->start();
  }
  return {
      [this](drain_atom) {
        current_scope scope{this};
        if (host_)
          host_->drain();
      },
      [this](cancel_atom, request_ref& st) {
        current_scope scope{this};
        host_->cancel(std::move(st));
      },
      [this](task_atom, task_box& t) {
        current_scope scope{this};
        host_->run_task(t);
      },
      [this](crash_atom, error& reason) { quit(to_exit_reason(reason)); },
  };
}

void worker_actor::on_exit() {
  if (host_) {
    current_scope scope{this};
    host_->stop();
  }
  host_.reset();
  loop_ = nullptr;
}

} // namespace loopbridge::detail
