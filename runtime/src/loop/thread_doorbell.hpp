#pragma once

// How the event loop wakes an instance that runs on a thread of its own.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace loopbridge::detail {

/// How the event loop wakes an instance that runs on a thread of its own (a dedicated thread,
/// or a worker's own I/O thread) when requests wait for it in its actor's lane.
///
/// The instance's thread takes requests from the lane itself and waits on this doorbell when it
/// has nothing to do. The loop rings it when the lane returns the instance as idle, instead of
/// sending the wake message to the instance's actor: that message would cost a trip through
/// the scheduler, and a wake-up of one of its threads, before the instance's thread even heard
/// of the request. A dedicated instance's own tasks (cancels, timers, posted functions) wait
/// behind the same mutex and condition variable; an own-thread worker is woken through the
/// function it registered (`wake`), which must not block.
///
/// Threads: `ring` from any thread; `set_wake` and `clear_wake` by the instance. `ring` calls
/// the wake function under the mutex, so once `clear_wake` returned it is never called again
/// (the worker it belongs to may go); the rest belongs to the instance's thread and its actor.
struct thread_doorbell {
  std::mutex mutex;
  std::condition_variable cv;
  bool rung = false;          ///< guarded by `mutex`: rung since the thread last looked
  std::function<void()> wake; ///< guarded by `mutex`: an own-thread worker's wake-up
  /// Set with `rung` (and by a dedicated instance's task pushes), readable without the mutex
  /// by the instance's thread while it spins before it waits; cleared by that thread.
  std::atomic<bool> pending{false};

  void ring() {
    std::lock_guard<std::mutex> guard{mutex};
    rung = true;
    pending.store(true, std::memory_order_release);
    if (wake)
      wake(); // must not block (the worker's contract)
    else
      cv.notify_one();
  }
  void set_wake(std::function<void()> fn) {
    std::lock_guard<std::mutex> guard{mutex};
    wake = std::move(fn);
  }
  void clear_wake() {
    std::lock_guard<std::mutex> guard{mutex};
    wake = nullptr;
  }
};

} // namespace loopbridge::detail
