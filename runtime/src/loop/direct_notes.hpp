#pragma once

// Requests that submitters handed straight to an actor's lane, for the event loop to take in.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "loopbridge/detail/request_state.hpp"
#include "threads/sleep_flag.hpp"
#include "threads/spin_lock.hpp"

namespace loopbridge::detail {

/// The notes of direct submissions: requests a submitter pushed straight into an actor's lane
/// (`request_lane::push_direct`), so that the request reaches its instance without a turn of the
/// event loop. The loop takes each note in after the fact — counts the request received, indexes
/// its deadline, tracks it in flight — exactly as if it had handed the request out itself.
///
/// A note does not wake the loop: the loop takes the notes at its next drain, or before any
/// handler that needs to know every request in flight (a cancel, an instance lost, a stop, its
/// timer), or when it meets a done report of a request it has no note of yet. Bounds, as for
/// quiet done reports (`node_inbox::push_quiet`): every `quiet_batch`-th note since the last
/// take wakes it, and so does any note while the loop thread sleeps without a timer (`sleep`);
/// otherwise the loop thread, before it sleeps, comes back within `report_delay`. So a note is
/// taken in within `report_delay` of its submission at the latest, and submitters go direct
/// only with deadlines well beyond that.
///
/// Threads: `add` from any thread (under the lane's lock); `take`, `sleep` and `woke` from the
/// loop's thread. Holds one reference per note (the loop's) until taken.
class direct_notes {
public:
  enum class added : std::uint8_t { refused, quiet, wake };

  direct_notes() { notes_.reserve(initial); }
  direct_notes(const direct_notes&) = delete;
  direct_notes& operator=(const direct_notes&) = delete;
  ~direct_notes() {
    for (auto* st : notes_)
      st->release();
  }

  /// Notes `st`, adopting one reference. `wake`: the loop must be woken for it (see the class
  /// comment); `refused`: out of memory, nothing noted (the caller submits through the loop).
  added add(request_state* st) noexcept {
    std::size_t count = 0;
    {
      std::lock_guard<spin_lock> guard{mutex_};
      try {
        notes_.push_back(st);
      } catch (...) {
        return added::refused;
      }
      count = notes_.size();
      size_.store(count, std::memory_order_seq_cst);
    }
    if (count % quiet_batch == 0 || asleep_.asleep())
      return added::wake;
    return added::quiet;
  }

  /// Whether notes wait (a snapshot). Any thread.
  bool pending() const noexcept { return size_.load(std::memory_order_seq_cst) != 0; }

  /// The loop: swaps the notes into `out` (cleared first, in the order they were added).
  void take(std::vector<request_state*>& out) {
    out.clear();
    std::lock_guard<spin_lock> guard{mutex_};
    out.swap(notes_);
    size_.store(0, std::memory_order_seq_cst);
  }

  /// The loop's thread, about to sleep: true if it may sleep until woken (no note waits, and
  /// every later note wakes it); false if notes wait and it must come back for them by itself.
  /// After a true, `woke` on waking.
  bool sleep() noexcept { return asleep_.sleep(size_); }
  void woke() noexcept { asleep_.woke(); }

private:
  static constexpr std::size_t initial = 256;
  /// Notes per wake-up of the loop at most.
  static constexpr std::size_t quiet_batch = 32;

  spin_lock mutex_;
  std::vector<request_state*> notes_;
  std::atomic<std::size_t> size_{0};
  sleep_flag asleep_; ///< the loop thread sleeps without a timer
};

} // namespace loopbridge::detail
