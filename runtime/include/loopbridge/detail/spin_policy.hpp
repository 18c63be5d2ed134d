#pragma once

#include <atomic>
#include <chrono>

namespace loopbridge::detail {

/// How long a thread about to wait for something imminent spins before it parks on a futex.
///
/// Parking costs a wake-up on the other side (an inter-processor interrupt and a wake from
/// idle when the two threads sit on different cores, ~10 µs on virtual machines); a short spin
/// avoids it when the answer comes within microseconds. To never starve the threads doing the
/// work on small machines, at most one host thread spins at any time; the others park at once.
/// Set by the runtime at start (process-wide); read by waiting threads. Thread-safe.
struct spin_policy {
  /// Spin of the event-loop thread before it parks when idle.
  static std::chrono::nanoseconds loop() noexcept;
  /// Spin of a host thread waiting on a future before it parks.
  static std::chrono::nanoseconds host() noexcept;
  static void set(std::chrono::nanoseconds loop, std::chrono::nanoseconds host) noexcept;

  /// One step of a spin loop (`step` counts from 1): the CPU's pause hint for the first 64
  /// steps (about 2 µs: an answer that close is caught without a system call), then
  /// `sched_yield`, which hands the core to a thread waiting for one and returns at once when
  /// none waits. On a machine with more runnable threads than cores, the waiting thread is
  /// often the one that will produce the answer; spinning on the pause hint would take its core.
  /// Returns false when the yield gave the core away for long (`yield_lost`): another thread
  /// needed it, and a spinning thread that is not running sees nothing arrive.
  static bool relax(unsigned step) noexcept;

  /// Spins (see `relax`) until `ready()` returns true — then returns true — or `until` passes —
  /// then returns false. `ready` is called once per step; the clock is read every 64 steps.
  ///
  /// Under load spinning costs latency instead of saving it: a thread that yields its core to
  /// a busy one is runnable but not running, so the wake-up it waits for finds it neither
  /// running nor parked, and it resumes only after the other thread's time slice (milliseconds
  /// on a busy machine), where a parked thread would have been woken at once. So when a yield
  /// gives the core away, the calling thread stops spinning and parks at once for a while
  /// (`back_off`); after that it tries again.
  template <class Ready>
  static bool spin_until(std::chrono::steady_clock::time_point until, Ready&& ready) {
    if (backing_off())
      return ready();
    for (unsigned step = 1;; ++step) {
      if (ready())
        return true;
      if (!relax(step)) {
        back_off();
        return ready();
      }
      if (step % 64 == 0 && std::chrono::steady_clock::now() >= until)
        return false;
    }
  }

  /// A yield that takes longer than this gave the core to another thread.
  static constexpr std::chrono::microseconds yield_lost{50};
  /// How long a thread that lost its core while spinning parks at once instead of spinning:
  /// `backoff_ratio` times as long as the lost yield took, within [`backoff_min`,
  /// `backoff_max`]. A short loss is another thread's short turn (the loop taking in a batch, a
  /// virtual CPU descheduled for a moment): spinning resumes soon. A long one is a busy
  /// thread's time slice (more busy threads than cores): the calling thread keeps parking. So
  /// spinning never loses more than about 1/`backoff_ratio` of the time to lost yields.
  static constexpr int backoff_ratio = 20;
  static constexpr std::chrono::milliseconds backoff_min{1};
  static constexpr std::chrono::milliseconds backoff_max{50};
  /// The back-off after a yield that took `lost` (see `backoff_ratio`).
  static constexpr std::chrono::nanoseconds backoff_for(std::chrono::nanoseconds lost) noexcept {
    auto length = lost * backoff_ratio;
    if (length < backoff_min)
      return backoff_min;
    if (length > backoff_max)
      return backoff_max;
    return length;
  }
  /// True while the calling thread backs off (see `spin_until`).
  static bool backing_off() noexcept;
  /// Starts the calling thread's back-off after its last `relax` lost the core (see
  /// `backoff_ratio`).
  static void back_off() noexcept;

  /// Takes the single host spinning slot; false if another host thread holds it.
  static bool try_acquire_host_slot() noexcept;
  static void release_host_slot() noexcept;
};

} // namespace loopbridge::detail
