#pragma once

// The instances that must announce ready before their ready timeout ends.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <vector>

namespace loopbridge::detail {

/// The instances still starting, each with the time by which it must announce ready. Entries
/// are grouped by ready timeout: within a group, later watches end later (the clock only moves
/// forward), so each group is a FIFO queue and the earliest deadline is at one of the groups'
/// fronts. Watching costs O(1) and 24 bytes; an instance that became ready, failed or went is
/// not looked up and removed — it is dropped once it reaches its group's front (`prune`,
/// `next_expiry`, `expire` ask the owner whether an entry still waits), so a million instances
/// starting at once cost no tree and no hash table.
///
/// Not thread-safe: owned by the event loop.
class ready_watch {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  struct entry {
    time_point deadline;
    std::uint32_t target = 0;
    std::uint32_t instance = 0;
    std::uint32_t token = 0;
    bool extended = false; ///< watched again once after its deadline (see `event_loop`)
  };

  /// Watches an instance that starts now and must be ready within `timeout`.
  void watch(clock::duration timeout, time_point now, std::uint32_t target, std::uint32_t instance,
             std::uint32_t token, bool extended = false) {
    auto deadline = timeout < time_point::max() - now ? now + timeout : time_point::max();
    groups_[timeout].push_back({deadline, target, instance, token, extended});
  }

  /// Drops the entries at the groups' fronts for which `waits(entry)` is false.
  template <class Waits>
  void prune(Waits&& waits) {
    for (auto it = groups_.begin(); it != groups_.end();) {
      auto& q = it->second;
      while (!q.empty() && !waits(q.front()))
        q.pop_front();
      it = q.empty() ? groups_.erase(it) : std::next(it);
    }
  }

  /// The earliest deadline of an instance still waiting, or `time_point::max()`.
  template <class Waits>
  time_point next_expiry(Waits&& waits) {
    prune(waits);
    auto next = time_point::max();
    for (auto& [timeout, q] : groups_)
      next = std::min(next, q.front().deadline);
    return next;
  }

  /// Removes every entry whose deadline is at or before `now`; calls `late(entry)` for those
  /// for which `waits(entry)` is still true, earliest group first.
  template <class Waits, class Late>
  void expire(time_point now, Waits&& waits, Late&& late) {
    std::vector<entry> due;
    for (auto it = groups_.begin(); it != groups_.end();) {
      auto& q = it->second;
      while (!q.empty() && q.front().deadline <= now) {
        if (waits(q.front()))
          due.push_back(q.front());
        q.pop_front();
      }
      it = q.empty() ? groups_.erase(it) : std::next(it);
    }
    for (auto& e : due)
      late(e); // after the walk: `late` may start instances (and watch them) again
  }

  void clear() noexcept { groups_.clear(); }

private:
  std::map<clock::duration, std::deque<entry>> groups_;
};

} // namespace loopbridge::detail
