#pragma once

// The stall detector and what each runtime thread tells it about what it runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loopbridge/detail/type_tag.hpp"

namespace loopbridge::detail {

struct actor_record;

/// What one runtime thread is running right now, as the stall detector sees it. Written by its
/// own thread only (relaxed stores published by `since`), read by the detector's thread.
struct activity_slot {
  /// When the current handler began (steady clock, ns since its epoch); 0 while none runs.
  std::atomic<std::int64_t> since{0};
  /// Handler starts on this thread so far: tells one occurrence from the next.
  std::atomic<std::uint64_t> serial{0};
  /// Whose handler runs: the actor's index and spawn sequence (sequence 0: the event loop),
  /// its instance, and the request type (null for other messages).
  std::atomic<std::uint32_t> actor_index{0};
  std::atomic<std::uint64_t> actor_sequence{0};
  std::atomic<std::uint32_t> instance{0};
  std::atomic<const type_tag*> request{nullptr};
  /// 0 while the thread is parked (waiting for work); see `stall_detector::woke`.
  std::atomic<std::uint32_t> awake{1};
  /// The detector's own: the serial it last reported.
  std::uint64_t reported = 0;
  std::string thread_name;
};

/// A handler that has run longer than the threshold, seen while it still runs.
struct stall {
  std::uint32_t actor_index = 0;
  std::uint64_t actor_sequence = 0; ///< 0: something on the event loop's thread
  std::uint32_t instance = 0;
  const type_tag* request = nullptr;
  std::chrono::nanoseconds elapsed{0};
  std::string thread;
};

/// Notices a handler — or anything on the event loop's thread — that runs longer than a
/// threshold *while it still runs*, like asyncio's debug mode, and reports each occurrence once.
///
/// Every thread that runs handlers (scheduler threads, the loop thread, dedicated instance
/// threads, threads of kinds that serve their own requests) owns an `activity_slot`, attached
/// here, and marks each handler with `activity_scope`. The detector's thread (`lb.watch`) checks
/// the slots while any of those threads is awake and parks when all of them are parked; a
/// thread leaving its park wakes it (`woke`). An idle runtime therefore costs it no wake-ups,
/// and a handler costs its thread one coarse clock read (the kernel tick's resolution) and a few
/// relaxed stores.
///
/// Threads: `attach`, `woke`, `dozing` from any thread (each for its own slot); `report` runs on
/// the detector's thread and must not block for long.
class stall_detector {
public:
  using report_fn = std::function<void(const stall&)>;

  stall_detector(std::chrono::nanoseconds threshold, report_fn report);
  ~stall_detector();
  stall_detector(const stall_detector&) = delete;
  stall_detector& operator=(const stall_detector&) = delete;

  /// Starts the detector's thread. A zero threshold disables it (slots still work).
  void start();
  /// Stops and joins the detector's thread; `report` is not called afterwards.
  void stop();

  /// A slot for the calling thread, named `thread_name`, made current on it (see
  /// `activity_scope`). The detector forgets the slot when the thread detaches it or ends.
  std::shared_ptr<activity_slot> attach(std::string thread_name);
  /// The calling thread stops being watched.
  void detach();

  /// The calling thread leaves a park (it is about to run work): wakes the detector if it parks.
  void woke() noexcept;
  /// The calling thread is about to park.
  void dozing() noexcept;

  std::chrono::nanoseconds threshold() const noexcept { return threshold_; }

  /// What runs now on the watched threads (for the shutdown report). Any thread.
  std::vector<stall> running();

private:
  void run();
  /// Reads what `slot` runs now into `out` (and the serial of that occurrence); false if
  /// nothing runs or a handler began while reading.
  static bool read(const activity_slot& slot, std::int64_t now, stall& out, std::uint64_t& serial);
  void kick() noexcept;

  std::chrono::nanoseconds threshold_;
  report_fn report_;
  std::mutex mutex_; ///< guards `slots_`
  std::vector<std::shared_ptr<activity_slot>> slots_;
  std::atomic<std::uint32_t> word_{0};   ///< futex word the detector sleeps on
  std::atomic<std::uint32_t> parked_{0}; ///< 1 while it parks until some thread wakes
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Marks the calling thread as running a handler of `actor`'s `instance` (request type
/// `request`, or null for another message; `actor` null for the event loop itself) for the
/// scope. No-op on a thread without a slot.
class activity_scope {
public:
  activity_scope(const actor_record* actor, std::uint32_t instance,
                 const type_tag* request) noexcept;
  ~activity_scope();
  activity_scope(const activity_scope&) = delete;
  activity_scope& operator=(const activity_scope&) = delete;

private:
  activity_slot* slot_;
};

} // namespace loopbridge::detail
