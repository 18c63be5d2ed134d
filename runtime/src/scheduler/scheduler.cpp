// The runtime's scheduler: its threads, parking on a futex and waking them directly.
#include "scheduler/scheduler.hpp"

#include <caf/actor_system.hpp>
#include <caf/detail/set_thread_name.hpp>

#include "scheduler/stall_detector.hpp"
#include "threads/futex.hpp"
#include "tuning.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void mark_scheduler_thread() noexcept;

namespace {
/// The scheduler whose thread this is, if any.
thread_local const scheduler* tl_scheduler = nullptr;
} // namespace

namespace {
/// Open `scheduler::burst` scopes on this thread ...
thread_local int tl_burst_depth = 0;
/// ... and the scheduler that deferred a wake-up inside them, if any.
thread_local scheduler* tl_burst_owed = nullptr;
} // namespace

bool scheduler::others_waiting() noexcept {
  return tl_scheduler && tl_scheduler->queued_.load(std::memory_order_relaxed) != 0;
}

/// One scheduler thread: takes runnable actors from the scheduler's queue and resumes each for
/// one turn. Actors it wakes go to the same queue (any idle thread may take them).
class scheduler_thread final : public caf::execution_unit {
public:
  scheduler_thread(scheduler& parent, std::size_t id)
      : caf::execution_unit(&parent.system()),
        parent_(parent),
        id_(id) {}

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }
  void exec_later(caf::resumable* job) override { parent_.enqueue(job); }

private:
  friend class scheduler;

  void run() {
    auto name = "lb.sched." + std::to_string(id_);
    log::name_thread(name);
    mark_scheduler_thread();
    tl_scheduler = &parent_;
    system().thread_started();
    if (parent_.settings_.stalls)
      slot_ = parent_.settings_.stalls->attach(name);
    while (auto* job = parent_.dequeue(*this)) {
      switch (job->resume(this, parent_.settings_.turn)) {
        case caf::resumable::resume_later:
          parent_.enqueue(job); // behind whatever else is runnable
          break;
        case caf::resumable::awaiting_message:
        case caf::resumable::done:
          intrusive_ptr_release(job);
          break;
        case caf::resumable::shutdown_execution_unit:
          intrusive_ptr_release(job);
          break;
      }
    }
    if (parent_.settings_.stalls)
      parent_.settings_.stalls->detach();
    system().thread_terminates();
  }

  scheduler& parent_;
  std::size_t id_;
  std::thread thread_;
  std::atomic<std::uint32_t> wake_{0}; ///< futex word: 1 once woken from the parked list
  adaptive_spin spin_;
  std::shared_ptr<activity_slot> slot_;
};

scheduler::scheduler(caf::actor_system& sys, scheduler_settings settings)
    : caf::scheduler::abstract_coordinator(sys),
      settings_(std::move(settings)) {
  if (settings_.threads == 0)
    settings_.threads = 1;
  if (settings_.turn == 0)
    settings_.turn = 1;
}

scheduler::~scheduler() = default;

void scheduler::load(caf::actor_system_config& cfg, scheduler_settings settings) {
  cfg.module_factories.push_back(
      [settings = std::move(settings)](caf::actor_system& sys) -> caf::actor_system::module* {
        return new scheduler(sys, settings);
      });
}

void scheduler::init(caf::actor_system_config& cfg) {
  abstract_coordinator::init(cfg);
  num_workers_ = settings_.threads;
  max_throughput_ = settings_.turn;
}

void scheduler::start() {
  for (std::size_t i = 0; i < settings_.threads; ++i)
    threads_.push_back(std::make_unique<scheduler_thread>(*this, i));
  for (auto& t : threads_)
    t->start();
  clock_thread_ = std::thread([this] {
    log::name_thread("lb.clock");
    system().thread_started();
    clock_.run_dispatch_loop();
    system().thread_terminates();
  });
  abstract_coordinator::start(); // CAF's utility actors
}

void scheduler::stop() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
    parked_.clear();
  }
  for (auto& t : threads_) {
    t->wake_.store(1, std::memory_order_release);
    futex_wake_all(t->wake_);
  }
  for (auto& t : threads_)
    t->join();
  stop_actors();
  clock_.cancel_dispatch_loop();
  if (clock_thread_.joinable())
    clock_thread_.join();
  // Whatever is still runnable never runs: clean it up as CAF's own coordinator does.
  std::deque<caf::resumable*> rest;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    rest.swap(queue_);
    queued_.store(0, std::memory_order_relaxed);
  }
  for (auto* job : rest)
    cleanup_and_release(job);
}

scheduler::burst::burst() noexcept {
  ++tl_burst_depth;
}

scheduler::burst::~burst() {
  if (--tl_burst_depth == 0 && tl_burst_owed) {
    auto* owed = tl_burst_owed;
    tl_burst_owed = nullptr;
    owed->wake_for_backlog();
  }
}

void scheduler::wake_for_backlog() {
  scheduler_thread* wake = nullptr;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!parked_.empty() && queue_.size() > spinning_.load(std::memory_order_seq_cst)) {
      wake = parked_.back();
      parked_.pop_back();
    }
  }
  if (wake) {
    wake->wake_.store(1, std::memory_order_release);
    futex_wake_all(wake->wake_);
  }
}

void scheduler::enqueue(caf::resumable* job) {
  scheduler_thread* wake = nullptr;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    queue_.push_back(job);
    queued_.store(queue_.size(), std::memory_order_seq_cst);
    // A spinning thread takes the job; otherwise wake a parked one. More runnable jobs than
    // spinning threads: wake one more, so no job waits while a thread sleeps. Inside a burst,
    // only once a backlog built up (and at the burst's end).
    auto slack = tl_burst_depth > 0 ? burst_wake_backlog : 0;
    if (!parked_.empty() && queue_.size() > spinning_.load(std::memory_order_seq_cst) + slack) {
      wake = parked_.back();
      parked_.pop_back();
    } else if (slack > 0 && !parked_.empty()) {
      tl_burst_owed = this;
    }
  }
  if (wake) {
    wake->wake_.store(1, std::memory_order_release);
    futex_wake_all(wake->wake_);
  }
}

caf::resumable* scheduler::dequeue(scheduler_thread& self) {
  using clock = adaptive_spin::clock;
  auto* stalls = settings_.stalls.get();
  for (;;) {
    scheduler_thread* wake = nullptr;
    caf::resumable* job = nullptr;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        return nullptr;
      if (!queue_.empty()) {
        job = queue_.front();
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_relaxed);
        // More waiting than spinning threads can take: pass the wake-up on.
        if (!queue_.empty() && !parked_.empty() &&
            queue_.size() > spinning_.load(std::memory_order_seq_cst)) {
          wake = parked_.back();
          parked_.pop_back();
        }
      }
    }
    if (wake) {
      wake->wake_.store(1, std::memory_order_release);
      futex_wake_all(wake->wake_);
    }
    if (job)
      return job;
    // Nothing runnable: spin a little (new work often follows at once), then park. One thread
    // spins at a time: more would only take cores from the threads that make the work.
    auto start = clock::now();
    std::size_t none = 0;
    if (spinning_.compare_exchange_strong(none, 1, std::memory_order_seq_cst)) {
      bool found = self.spin_.spin(settings_.spin, start,
                                   [this] { return queued_.load(std::memory_order_relaxed) != 0; });
      spinning_.fetch_sub(1, std::memory_order_seq_cst);
      if (found)
        continue;
    }
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        return nullptr;
      if (!queue_.empty())
        continue;
      self.wake_.store(0, std::memory_order_relaxed);
      parked_.push_back(&self);
    }
    if (stalls)
      stalls->dozing();
    while (self.wake_.load(std::memory_order_acquire) == 0)
      futex_wait_until(self.wake_, 0, clock::time_point::max());
    if (stalls)
      stalls->woke();
    self.spin_.parked(settings_.spin, start);
  }
}

} // namespace loopbridge::detail
