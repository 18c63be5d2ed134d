#pragma once

#include <condition_variable>
#include <mutex>

namespace loopbridge::detail {

/// How the event loop wakes an instance that runs on a dedicated thread.
///
/// The instance's thread takes requests from its request inbox itself and waits on this
/// doorbell when it has nothing to do. The loop rings it when the inbox goes idle -> busy,
/// instead of sending the wake message to the instance's actor: that message would cost a trip
/// through CAF's scheduler, and a wake-up of one of its threads, before the instance's thread
/// even heard of the request. The instance's own tasks (cancels, timers, posted functions) wait
/// behind the same mutex and condition variable.
///
/// Threads: `ring` from any thread; the rest belongs to the instance's thread and its actor.
struct thread_doorbell {
  std::mutex mutex;
  std::condition_variable cv;
  bool inbox_ready = false; ///< guarded by `mutex`: the inbox has work the thread has not seen

  void ring() {
    {
      std::lock_guard<std::mutex> guard{mutex};
      inbox_ready = true;
    }
    cv.notify_one();
  }
};

} // namespace loopbridge::detail
