#pragma once

// The host of a dedicated instance: the worker runs on a thread of its own, woken through the
// instance's doorbell. Included by the worker actor's translation unit only.

#include "loopbridge/detail/spin_policy.hpp"
#include "workers/instance_host.hpp"

namespace loopbridge::detail {

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
    push([this, id = st->id] {
      cancel_made_for(id);
      worker_->on_cancel(id);
    });
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
    door_->pending.store(true, std::memory_order_release);
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
    bool spun = false;
    for (;;) {
      door_->pending.store(false, std::memory_order_relaxed); // what it stands for is seen below
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
      if (ready_ && !spun && spin_for_work(guard)) {
        spun = true; // once per wait: it looks again, then waits
        continue;
      }
      spun = false;
      if (stalls)
        stalls->dozing();
      door_->cv.wait(guard);
      if (stalls)
        stalls->woke();
    }
  }

  /// With the doorbell's mutex held and nothing to do: if no other instance of the actor
  /// spins, spins (without the mutex; `spin_policy::host`) for the doorbell or a task. A pool
  /// that is handed work in a steady stream then takes it without a wake-up per batch. True if
  /// it spun (the caller looks again under the mutex).
  bool spin_for_work(std::unique_lock<std::mutex>& guard) {
    auto spin = spin_policy::host();
    if (spin.count() <= 0 || lane_->spinner.load(std::memory_order_relaxed) ||
        lane_->spinner.exchange(true, std::memory_order_acquire))
      return false;
    guard.unlock();
    spin_policy::spin_until(std::chrono::steady_clock::now() + spin,
                            [&] { return door_->pending.load(std::memory_order_acquire); });
    lane_->spinner.store(false, std::memory_order_release);
    guard.lock();
    return true;
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
      if (crashed()) {
        core_->send_to(self_, crash_atom::value, crash_reason());
        break;
      }
    }
    lane_->leave(instance_);
    cancel_all_made();
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

} // namespace loopbridge::detail
