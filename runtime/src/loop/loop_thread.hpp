#pragma once

// The thread that runs the event-loop actor and nothing else.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include <caf/execution_unit.hpp>
#include <caf/fwd.hpp>
#include <caf/resumable.hpp>

#include "scheduler/adaptive_spin.hpp"

namespace loopbridge::detail {

/// The thread that runs the event-loop actor, like the seed's EventThread runs asyncio, and
/// nothing else: no worker's handler ever runs here.
///
/// Host threads wake it directly (a futex, no scheduler in between): the event loop's
/// `enqueue` calls `notify` when a message arrives while the loop is idle. Actors the loop makes
/// runnable (a worker instance it handed requests) go to the runtime's scheduler, whose threads
/// run them in parallel. After a burst of work the thread spins briefly before it parks
/// (`adaptive_spin`), so request/response traffic rarely pays a wake-up.
///
/// Contract for code running here: never block (as on asyncio's loop); the stall detector
/// reports anything that runs here longer than `runtime.slow_handler`. Threads: `notify` from
/// any thread; everything else on the loop thread only. Lifetime: `notify` may be called (by
/// CAF's clock thread, delivering a timer) until the actor system is destroyed, so the object
/// must outlive the actor system.
class stall_detector;

class loop_thread final : public caf::execution_unit {
public:
  loop_thread(caf::actor_system& sys, std::shared_ptr<stall_detector> stalls);
  ~loop_thread() override;

  /// Starts the thread; `loop` is the event-loop actor it hosts.
  void start(caf::resumable* loop);
  /// The event loop became runnable (the caller transferred one reference to this thread).
  /// Any thread; wakes the loop thread if it is parked.
  void notify() noexcept;
  /// Waits for the thread to end (after the event loop terminated).
  void join();
  /// Lets the thread go on without this object's owner waiting for it: the runtime gave up on
  /// a loop that did not finish within the shutdown budget and leaves it behind (this object
  /// is then never destroyed, so the thread may keep using it). The stopping thread.
  void abandon() noexcept {
    if (thread_.joinable())
      thread_.detach();
  }
  /// True if the calling thread is this loop thread.
  bool on_this_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  /// An actor the loop made runnable: it goes to the scheduler.
  void exec_later(caf::resumable* job) override;

private:
  void run();
  /// Resumes the loop once; false once it terminated.
  bool resume();
  void park() noexcept;

  caf::resumable* loop_ = nullptr;
  std::shared_ptr<stall_detector> stalls_;
  std::atomic<std::uint32_t> ready_{0};    ///< 1 when the loop actor is runnable
  std::atomic<std::uint32_t> sleeping_{0}; ///< 1 while parked on `ready_`
  adaptive_spin spin_;
  std::thread thread_;
};

} // namespace loopbridge::detail
