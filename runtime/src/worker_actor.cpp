#include "worker_actor.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "runtime_core.hpp"

#include "loopbridge/context.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

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

/// Requests an instance takes from its inbox per drain message before others get a turn.
constexpr int drain_budget = 256;

std::string instance_label(const actor_record& rec, std::uint32_t instance) {
  return rec.spec.name + "/" + std::to_string(instance);
}

} // namespace

ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core,
                                        std::shared_ptr<request_inbox> loop_inbox) {
  return make_ref<loop_sink>(std::move(core), std::move(loop_inbox));
}

// -- instance_host: what both execution modes share ----------------------------------------------

/// The runtime side of one worker instance: owns the kind's worker object and implements the
/// `worker_context` it is given.
class instance_host : public worker_context, public std::enable_shared_from_this<instance_host> {
public:
  instance_host(record_ptr rec, std::uint32_t instance, std::uint32_t token,
                std::shared_ptr<runtime_core> core, caf::actor_addr self)
      : rec_(std::move(rec)),
        instance_(instance),
        token_(token),
        core_(std::move(core)),
        self_(std::move(self)),
        sink_(core_->sink()) {}

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

  /// Creates the worker (now, or on the instance's own thread) and announces ready.
  virtual void start() = 0;
  /// A request from the loop. Called on the actor's thread.
  virtual void deliver(request_ref st) = 0;
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
    error failure;
    worker_ = create_worker(failure);
    if (!worker_)
      start_failed(std::move(failure));
    else if (!deferred_)
      ready(value{});
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
    if (!st->mark_started(token_)) {
      sink_->finished(std::move(st));
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
    context_scope scope{st->context};
    request_deadline_scope deadline_scope{st->deadline};
    entry->dispatch(w, std::move(st), sink_);
  }

  std::unique_ptr<worker> create_worker(error& failure) {
    try {
      return rec_->kind->create(*this);
    } catch (const std::exception& e) {
      failure = error{errc::start_failed, instance_label(*rec_, instance_) + ": " + e.what()};
    } catch (...) {
      failure = error{errc::start_failed, instance_label(*rec_, instance_) + ": unknown exception"};
    }
    return nullptr;
  }

  std::unique_ptr<worker> worker_;
  record_ptr rec_;
  std::uint32_t instance_;
  std::uint32_t token_; ///< identifies this incarnation to the requests it may start
  std::shared_ptr<runtime_core> core_;
  caf::actor_addr self_;
  ref_ptr<completion_sink> sink_;
  bool crashed_ = false;
  error crash_reason_;
  bool deferred_ = false;  ///< the worker announces ready itself
  bool announced_ = false; ///< ready or start_failed was sent
};

// -- scheduled: the worker runs inside the actor's handlers ---------------------------------------

class scheduled_host final : public instance_host {
public:
  scheduled_host(worker_actor* self, record_ptr rec, std::uint32_t instance, std::uint32_t token,
                 std::shared_ptr<runtime_core> core)
      : instance_host(std::move(rec), instance, token, std::move(core), self->address()),
        self_ptr_(self) {}

  void start() override { create_and_announce(); }
  void announce_ready(value info) override {
    self_ptr_->send(self_ptr_->loop_, ready_atom::value, rec_->index, instance_, token_,
                    std::move(info));
  }
  void announce_start_failed(error reason) override {
    self_ptr_->send(self_ptr_->loop_, start_failed_atom::value, rec_->index, instance_, token_,
                    reason);
    self_ptr_->quit(to_exit_reason(reason));
  }
  void deliver(request_ref st) override {
    if (!worker_) {
      st->fail(error{errc::worker_failed, "instance is not running"});
      sink_->finished(std::move(st));
      return;
    }
    run(*worker_, std::move(st));
    quit_if_crashed();
  }
  void cancel(request_ref st) override {
    if (worker_)
      guarded("on_cancel", [&] { worker_->on_cancel(st->id); });
    quit_if_crashed();
  }
  void run_task(task_box& t) override {
    if (worker_ && t.fn && *t.fn)
      guarded("task", [&] { (*t.fn)(); });
    quit_if_crashed();
  }
  void stop() override { worker_.reset(); }

  void after(duration delay, task fn) override {
    self_ptr_->delayed_send(self_ptr_, delay, task_atom::value,
                            task_box{std::make_shared<task>(std::move(fn))});
  }
  void post(task fn) override {
    core_->send_to(self_, task_atom::value, task_box{std::make_shared<task>(std::move(fn))});
  }

private:
  template <class F>
  void guarded(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      LB_LOG(warning, "worker",
             instance_label(*rec_, instance_) << " " << what << " threw: " << e.what());
    } catch (...) {
      LB_LOG(warning, "worker", instance_label(*rec_, instance_) << " " << what << " threw");
    }
  }
  void quit_if_crashed() {
    if (crashed_)
      self_ptr_->quit(to_exit_reason(crash_reason_));
  }

  worker_actor* self_ptr_;
};

// -- dedicated thread: the worker runs on a thread of its own -------------------------------------

class dedicated_host final : public instance_host {
public:
  dedicated_host(record_ptr rec, std::uint32_t instance, std::uint32_t token,
                 std::shared_ptr<runtime_core> core, caf::actor_addr self,
                 std::shared_ptr<request_inbox> inbox, std::shared_ptr<thread_doorbell> doorbell)
      : instance_host(std::move(rec), instance, token, std::move(core), std::move(self)),
        inbox_(std::move(inbox)),
        door_(std::move(doorbell)) {}

  void start() override {
    auto self = std::static_pointer_cast<dedicated_host>(shared_from_this());
    auto name = "lb." + rec_->spec.name + "." + std::to_string(instance_);
    core_->threads().start(
        name, [self] { self->thread_main(); }, [self] { return self->describe(); });
  }
  /// Not used: the instance's thread takes its requests from the inbox itself.
  void deliver(request_ref st) override {
    st->fail(error{errc::worker_failed, "request delivered past the instance's thread"});
    sink_->finished(std::move(st));
  }
  void cancel(request_ref st) override {
    push([this, id = st->id] { worker_->on_cancel(id); });
  }
  void run_task(task_box& t) override {
    if (t.fn)
      push(std::move(*t.fn));
  }
  /// After this returns the thread takes nothing more from the inbox (it checks `stopping_`
  /// under the same mutex before each pop), so the loop may take back what is left there.
  void stop() override {
    std::lock_guard<std::mutex> guard{door_->mutex};
    stopping_ = true;
    tasks_.clear();
    door_->cv.notify_all();
  }

  void after(duration delay, task fn) override {
    std::this_thread::sleep_for(delay);
    fn();
  }
  void post(task fn) override { push(std::move(fn)); }

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
  }
  void announce_start_failed(error reason) override {
    core_->send_to_loop(start_failed_atom::value, rec_->index, instance_, token_, reason);
    core_->send_to(self_, crash_atom::value, reason);
    std::lock_guard<std::mutex> guard{door_->mutex};
    stopping_ = true;
    tasks_.clear();
  }

  /// The next thing to do, waiting for it: a task first (cancels must not queue behind
  /// requests), then the next request from the inbox. False when the instance stops.
  bool next_work(task& next, request_ref& st) {
    std::unique_lock<std::mutex> guard{door_->mutex};
    for (;;) {
      if (stopping_)
        return false;
      if (!tasks_.empty()) {
        next = std::move(tasks_.front());
        tasks_.pop_front();
        return true;
      }
      if (draining_) {
        if (auto* popped = inbox_->pop()) {
          st = request_ref::adopt(popped);
          running_id_ = st->id;
          running_since_ = clock::now();
          return true;
        }
        draining_ = false; // empty: the next push rings the doorbell
      }
      if (door_->inbox_ready) {
        door_->inbox_ready = false;
        inbox_->begin_drain();
        draining_ = true;
        continue;
      }
      door_->cv.wait(guard);
    }
  }

  void thread_main() {
    create_and_announce();
    for (;;) {
      task next;
      request_ref st;
      if (!next_work(next, st))
        break;
      try {
        if (st) {
          run(*worker_, std::move(st));
          std::lock_guard<std::mutex> guard{door_->mutex};
          running_id_ = 0;
        } else {
          next();
        }
      } catch (const std::exception& e) {
        LB_LOG(warning, "worker", instance_label(*rec_, instance_) << " task threw: " << e.what());
      } catch (...) {
        LB_LOG(warning, "worker", instance_label(*rec_, instance_) << " task threw");
      }
      if (crashed_) {
        core_->send_to(self_, crash_atom::value, crash_reason_);
        break;
      }
    }
    worker_.reset();
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

  std::shared_ptr<request_inbox> inbox_; ///< consumed by this instance's thread only
  std::shared_ptr<thread_doorbell> door_;
  std::deque<task> tasks_;
  bool stopping_ = false;
  bool draining_ = false; ///< owned by the instance's thread
  std::uint64_t running_id_ = 0;
  time_point running_since_{};
};

// -- worker_actor ---------------------------------------------------------------------------------

worker_actor::worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance,
                           std::uint32_t token, caf::actor loop, std::shared_ptr<runtime_core> core,
                           std::shared_ptr<request_inbox> inbox,
                           std::shared_ptr<request_inbox> /* loop_inbox: reached via the sink */,
                           std::shared_ptr<thread_doorbell> doorbell)
    : caf::event_based_actor(cfg),
      inbox_(std::move(inbox)),
      doorbell_(std::move(doorbell)),
      loop_(std::move(loop)) {
  if (rec->mode == execution::dedicated_thread)
    host_ = std::make_shared<dedicated_host>(std::move(rec), instance, token, std::move(core),
                                             address(), inbox_, doorbell_);
  else
    host_ =
        std::make_shared<scheduled_host>(this, std::move(rec), instance, token, std::move(core));
}

worker_actor::~worker_actor() = default;

worker_actor* worker_actor::current() noexcept {
  return tl_current;
}

void worker_actor::wake_loop() {
  send(loop_, drain_atom::value);
}

void worker_actor::drain() {
  if (doorbell_) { // the instance's thread is the inbox's only consumer
    doorbell_->ring();
    return;
  }
  inbox_->begin_drain();
  for (int n = 0; n < drain_budget; ++n) {
    auto* st = inbox_->pop();
    if (!st)
      return;
    if (!host_) { // exiting: the loop resolves what it handed us
      st->release();
      continue;
    }
    host_->deliver(request_ref::adopt(st));
    if (host_->crashed())
      return; // this instance is going away: the loop hands what it did not start elsewhere
  }
  if (inbox_->rearm())
    send(this, drain_atom::value);
}

caf::behavior worker_actor::make_behavior() {
  {
    current_scope scope{this};
    host_->start();
  }
  return {
      [this](drain_atom) {
        current_scope scope{this};
        drain();
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
