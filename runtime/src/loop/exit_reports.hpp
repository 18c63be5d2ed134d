#pragma once

// The exits of instances whose actor has stopped, reported to the loop in bulk.

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "threads/spin_lock.hpp"

namespace loopbridge::detail {

/// The exits of instances whose actor has already stopped. When an actor stops, the loop tells
/// each of its instances to exit and must hear back from each (it holds their CAF handles and
/// counts them down before it may end); a pool of a million instances would send it a million
/// messages, each a wake-up. Those exits are collected here instead, and only the one that
/// finds the list empty sends the loop a message (`exits_atom`); the loop takes the whole list.
/// An exit while the actor still serves carries its reason and goes as a message of its own
/// (`instance_down_atom`), in order with what the instance sent before.
///
/// Threads: `add` from any thread (the exiting instance's), `take` by the event loop. Short
/// critical sections under one spin lock.
class exit_reports {
public:
  struct exit {
    std::uint32_t target;
    std::uint32_t instance;
    std::uint32_t token;
  };

  /// Adds an exit; true if the list was empty, and the caller then wakes the loop.
  bool add(exit e) {
    std::lock_guard<spin_lock> guard{mutex_};
    exits_.push_back(e);
    return exits_.size() == 1;
  }

  /// Everything added so far, in order.
  std::vector<exit> take() {
    std::lock_guard<spin_lock> guard{mutex_};
    return std::exchange(exits_, {});
  }

private:
  spin_lock mutex_;
  std::vector<exit> exits_;
};

} // namespace loopbridge::detail
