#pragma once

// Hosts of scheduled instances: the worker runs inside the worker actor's handlers on the
// scheduler's threads; and the own-thread variant, whose worker serves requests on a thread it
// owns. Included by the worker actor's translation unit only.

#include <vector>

#include "workers/instance_host.hpp"

namespace loopbridge::detail {

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
    if (info.is_null()) {
      if (lane_->bulk->readies.add({rec_->index, instance_, token_}))
        self_ptr_->send(self_ptr_->loop_, ready_atom::value);
    } else {
      self_ptr_->send(self_ptr_->loop_, ready_atom::value, rec_->index, instance_, token_,
                      std::move(info));
    }
    ready_ = true;
    // Takes what waits, or registers idle, now: a message to itself would cost each of a
    // million instances an allocation and another turn on a scheduler thread.
    drain();
  }
  void announce_start_failed(error reason) override {
    self_ptr_->send(self_ptr_->loop_, start_failed_atom::value, rec_->index, instance_, token_,
                    reason);
    self_ptr_->quit(to_exit_reason(reason));
  }
  void drain() override {
    if (!worker_ || !ready_ || crashed())
      return;
    // A single instance takes a turn's worth at once (one lock); an instance of a pool takes
    // one at a time, so whichever instance is free runs the next request.
    std::size_t batch = rec_->spec.count == 1 ? static_cast<std::size_t>(instance_turn) : 1;
    auto turn_began = std::chrono::steady_clock::now();
    for (int ran = 0; ran < instance_turn; ++ran) {
      if (next_ == pending_.size()) {
        pending_.clear();
        next_ = 0;
        request_state* taken[instance_turn];
        auto room = room_for(batch);
        if (room == 0)
          return; // at its bound of suspended requests: the loop nudges it when one ends
        auto n = lane_->take(instance_, token_, taken, room);
        if (n == 0)
          return; // idle: the loop wakes it when a request arrives
        for (std::size_t k = 0; k < n; ++k)
          pending_.push_back(request_ref::adopt(taken[k]));
      }
      auto st = std::move(pending_[next_++]);
      run(*worker_, std::move(st));
      if (crashed()) {
        self_ptr_->quit(to_exit_reason(crash_reason()));
        return; // what it did not take stays in the lane for the other instances
      }
      if (scheduler::others_waiting() &&
          std::chrono::steady_clock::now() - turn_began >= instance_slice)
        break; // yield the thread between requests
    }
    self_ptr_->send(self_ptr_, drain_atom::value); // the turn is over: others run first
  }
  void cancel(request_ref st) override {
    cancel_made_for(st->id);
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
  bool quitting() const noexcept override { return crashed(); }
  void stop() override {
    pending_.clear(); // taken, never started: the loop runs them elsewhere or resolves them
    next_ = 0;
    cancel_all_made();
    worker_.reset();
  }

protected:
  void quit_if_crashed() {
    if (crashed())
      self_ptr_->quit(to_exit_reason(crash_reason()));
  }

  worker_actor* self_ptr_;
  /// Taken from the lane in a batch; those from `next_` on are not run yet. A vector, not a
  /// deque: an idle instance holds no buffer until its first request.
  std::vector<request_ref> pending_;
  std::uint32_t next_ = 0; ///< at most `instance_turn`
  bool ready_ = false;     ///< takes requests only once it announced ready
};

// Every scheduled instance has one, made with the shared pointer's control block beside it (16
// bytes in libstdc++): up to 240 bytes that fits a 256-byte block of the object pool, past it the
// next size class (320).
static_assert(sizeof(scheduled_host) <= 240, "a scheduled instance's host outgrows its block");

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
    push([this, id = st->id](worker& w) {
      cancel_made_for(id);
      w.on_cancel(id);
    });
  }
  void run_task(task_box& t) override {
    if (t.fn)
      push([fn = t.fn](worker&) { (*fn)(); });
  }
  bool quitting() const noexcept override { return false; } // its crash is its thread's
  void stop() override {
    door_->clear_wake(); // the wake-up may belong to the worker that goes now
    std::unique_ptr<worker> gone;
    {
      std::lock_guard<std::mutex> serving{serve_mutex_}; // waits for a `serve` under way
      std::lock_guard<std::mutex> guard{tasks_mutex_};
      gone = std::move(worker_);
      tasks_.clear();
      closed_ = true;
      cancel_all_made(); // its thread is out of `serve`: it cannot touch them meanwhile
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
    if (!own_ready_.load(std::memory_order_acquire) || !worker_ || crashed())
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
    for (std::size_t n = 0; n < budget && !crashed(); ++n) {
      auto st = take();
      if (!st)
        return false; // idle: the doorbell calls `wake` when a request arrives
      run(*worker_, std::move(st));
    }
    if (crashed()) {
      core_->send_to(self_, crash_atom::value, crash_reason());
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

inline bool own_intake::serve(std::size_t budget) {
  auto host = host_.lock();
  return host && host->serve(budget);
}

} // namespace loopbridge::detail
