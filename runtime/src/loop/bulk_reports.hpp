#pragma once

// Reports from instances that reach the loop in bulk: exits once their actor stopped, and
// readiness.

#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "threads/spin_lock.hpp"

namespace loopbridge::detail {

/// Reports of one kind from instances, each naming an instance's incarnation, collected for
/// the event loop: only the report that finds the list empty sends the loop a message; the loop
/// handles them a batch per message. A pool of a million instances would otherwise send it a
/// million messages, each an allocation and possibly a wake-up.
///
/// Threads: `add` from any thread (the reporting instance's) under one spin lock, held for a
/// push only; `handle` by the event loop.
class report_list {
public:
  struct report {
    std::uint32_t target;
    std::uint32_t instance;
    std::uint32_t token;
  };

  /// Adds a report; true if the list was empty, and the caller then sends the loop a message.
  bool add(report r) {
    std::lock_guard<spin_lock> guard{mutex_};
    reports_.push_back(r);
    return reports_.size() == 1;
  }

  /// Hands the reports added so far to `fn`, in order, at most `most` of them; the rest wait
  /// for the next call. True if some are left: the loop then sends itself the list's message,
  /// so they get their turn after other messages. The event loop only.
  template <class Fn>
  bool handle(std::size_t most, Fn&& fn) {
    {
      std::lock_guard<spin_lock> guard{mutex_};
      for (auto& r : reports_)
        backlog_.push_back(r);
      reports_.clear();
    }
    for (std::size_t n = 0; n < most && !backlog_.empty(); ++n) {
      auto r = backlog_.front();
      backlog_.pop_front();
      fn(r);
    }
    return !backlog_.empty();
  }

private:
  spin_lock mutex_;
  std::vector<report> reports_; ///< added, guarded by `mutex_`
  std::deque<report> backlog_;  ///< taken by the loop, not handled yet
};

/// The loop's lists of reports that instances send in bulk, shared through their lanes.
struct bulk_reports {
  /// Exits of instances whose actor has already stopped (`exits_atom`). When an actor stops, the
  /// loop tells each of its instances to exit and counts them down before it may end. An exit
  /// while the actor still serves carries its reason and goes as a message of its own
  /// (`instance_down_atom`), in order with what the instance sent before.
  report_list exits;
  /// Scheduled instances that became ready announcing no info (`ready_atom` with no arguments).
  /// Handled before any later report of the instance: the message its list sends precedes what
  /// the instance sends afterwards, and the loop handles every waiting readiness before an
  /// instance's exit or failed start (`event_loop::take_readies`).
  report_list readies;
};

} // namespace loopbridge::detail
