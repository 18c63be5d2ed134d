#pragma once

// The runtime's scheduler for scheduled actors, and its settings.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "scheduler/adaptive_spin.hpp"
#include "scheduler/runtime_clock.hpp"

namespace loopbridge::detail {

class stall_detector;
class scheduler_thread;

/// How the runtime's scheduler is set up (from `runtime_options`).
struct scheduler_settings {
  /// Scheduler threads (at least 1).
  std::size_t threads = 1;
  /// The most an idle scheduler thread spins for new work before it parks (adaptive).
  std::chrono::nanoseconds spin{0};
  /// Messages an actor handles per turn before its thread takes the next runnable actor.
  std::size_t turn = 8;
  /// Watches the scheduler threads for handlers that run too long; may be null.
  std::shared_ptr<stall_detector> stalls;
};

/// The runtime's CAF scheduler: runs every scheduled actor (worker instances, and any CAF actor
/// of the runtime's actor system other than the event loop) on `settings.threads` threads named
/// `lb.sched.N`, in parallel.
///
/// Loaded into the actor system as its scheduler module (`load`), in place of CAF's default
/// work-stealing coordinator, whose idle threads nap in 50 µs steps and answer work from outside
/// late. Here runnable actors wait in one queue that every thread takes from (work sharing:
/// no actor waits while a thread is idle), an idle thread spins briefly (adaptively, yielding
/// its core) and then parks on a futex, and whoever makes an actor runnable wakes a parked
/// thread directly when no spinning thread will take it. An idle runtime's scheduler threads
/// sleep until there is work. An actor runs on one thread at a time and handles its messages in
/// order (CAF's actor protocol); after `settings.turn` messages it goes to the back of the queue,
/// so one busy actor cannot starve the others.
///
/// Threads: `enqueue` from any thread; the rest is CAF's module protocol (the actor system's
/// constructor and destructor).
class scheduler final : public caf::scheduler::abstract_coordinator {
public:
  scheduler(caf::actor_system& sys, scheduler_settings settings);
  ~scheduler() override;

  /// Makes `cfg` build its actor system with this scheduler.
  static void load(caf::actor_system_config& cfg, scheduler_settings settings);

  void init(caf::actor_system_config& cfg) override;
  void start() override;
  void stop() override;
  /// Makes `job` runnable (one reference transferred). Any thread.
  void enqueue(caf::resumable* job) override;
  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

  /// Runnable jobs waiting for a thread (for tests and metrics). Any thread.
  std::size_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }
  /// True when the calling thread is one of a scheduler's threads and other actors wait for a
  /// thread of it: a handler loop should end its turn. One relaxed load.
  static bool others_waiting() noexcept;

  /// While one lives on the calling thread, the jobs that thread makes runnable wake a parked
  /// thread only when `burst_wake_backlog` of them wait beyond the spinning threads; when the
  /// last one ends, a parked thread is woken if any job still waits. For a thread that makes
  /// many jobs in a row (the event loop starting a pool): no futex wake per job, no job left
  /// behind. Nests. Not copyable; the calling thread only.
  class burst {
  public:
    burst() noexcept;
    ~burst();
    burst(const burst&) = delete;
    burst& operator=(const burst&) = delete;
  };

private:
  friend class scheduler_thread;
  /// Wakes a parked thread if jobs wait beyond the spinning threads.
  void wake_for_backlog();
  /// The next job for `self`, waiting for one (spin, then park); null when stopping.
  caf::resumable* dequeue(scheduler_thread& self);

  scheduler_settings settings_;
  runtime_clock clock_;
  std::thread clock_thread_;
  std::vector<std::unique_ptr<scheduler_thread>> threads_;

  std::mutex mutex_; ///< guards `queue_`, `parked_`, `stopping_`
  std::deque<caf::resumable*> queue_;
  std::vector<scheduler_thread*> parked_;
  bool stopping_ = false;
  std::atomic<std::size_t> queued_{0};   ///< `queue_.size()`, for spinning threads
  std::atomic<std::size_t> spinning_{0}; ///< threads spinning for work right now
};

} // namespace loopbridge::detail
