#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <thread>

#include <caf/execution_unit.hpp>
#include <caf/fwd.hpp>
#include <caf/resumable.hpp>

namespace loopbridge::detail {

/// The thread that runs the event-loop actor, like the seed's EventThread runs asyncio.
///
/// Host threads wake it directly (a futex, no scheduler in between): the event loop's
/// `enqueue` calls `notify` when a message arrives while the loop is idle. As a CAF execution
/// unit it also runs, cooperatively and in wake order, the scheduled actors that the loop (or
/// an actor running here) makes runnable: a request goes host -> loop -> worker -> host without
/// waiting for a scheduler thread to wake up. Actors woken by anything else (timers, other
/// threads) run on the scheduler's threads as usual; an actor never runs on two threads at once.
///
/// Contract for code running here: never block (as on asyncio's loop). Threads: `notify` from
/// any thread; everything else on the loop thread only.
class loop_thread final : public caf::execution_unit {
public:
  explicit loop_thread(caf::actor_system& sys);
  ~loop_thread() override;

  /// Starts the thread; `loop` is the event-loop actor it hosts.
  void start(caf::resumable* loop);
  /// The event loop became runnable (the caller transferred one reference to this thread).
  /// Any thread; wakes the loop thread if it is parked.
  void notify() noexcept;
  /// Waits for the thread to end (after the event loop terminated).
  void join();
  /// True if the calling thread is this loop thread.
  bool on_this_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  void exec_later(caf::resumable* job) override;

private:
  void run();
  /// Resumes `job` once; false if it is done.
  bool resume(caf::resumable* job);
  void park() noexcept;

  caf::resumable* loop_ = nullptr;
  std::deque<caf::resumable*> local_;      ///< runnable actors woken from this thread
  std::atomic<std::uint32_t> ready_{0};    ///< 1 when the loop actor is runnable
  std::atomic<std::uint32_t> sleeping_{0}; ///< 1 while parked on `ready_`
  std::chrono::nanoseconds spin_{0};       ///< current adaptive spin before parking
  std::thread thread_;
};

} // namespace loopbridge::detail
