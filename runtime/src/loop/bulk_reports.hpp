#pragma once

// Reports from instances that reach the loop in bulk: exits once their actor stopped, and
// readiness.

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "threads/spin_lock.hpp"

namespace loopbridge::detail {

/// Reports of one kind from instances, each naming an instance's incarnation, collected for
/// the event loop: only the report that finds the list empty sends the loop a message; the loop
/// takes the whole list. A pool of a million instances would otherwise send it a million
/// messages, each an allocation and possibly a wake-up.
///
/// Threads: `add` from any thread (the reporting instance's), `take` by the event loop. Short
/// critical sections under one spin lock.
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

  /// Everything added so far, in order.
  std::vector<report> take() {
    std::lock_guard<spin_lock> guard{mutex_};
    return std::exchange(reports_, {});
  }

private:
  spin_lock mutex_;
  std::vector<report> reports_;
};

/// The loop's lists of reports that instances send in bulk, shared through their lanes.
struct bulk_reports {
  /// Exits of instances whose actor has already stopped (`exits_atom`). When an actor stops, the
  /// loop tells each of its instances to exit and counts them down before it may end. An exit
  /// while the actor still serves carries its reason and goes as a message of its own
  /// (`instance_down_atom`), in order with what the instance sent before.
  report_list exits;
  /// Scheduled instances that became ready announcing no info (`ready_atom` with no arguments).
  /// Taken before any later message from the instance is handled: its first report into an
  /// empty list sends the message, which precedes whatever the instance sends afterwards.
  report_list readies;
};

} // namespace loopbridge::detail
