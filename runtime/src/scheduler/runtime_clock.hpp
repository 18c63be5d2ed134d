#pragma once

// The actor system's clock: CAF's thread-safe clock, without a dispatch-thread round trip for
// actors that never set a timeout.

#include <mutex>
#include <unordered_set>

#include <caf/detail/thread_safe_actor_clock.hpp>

namespace loopbridge::detail {

/// CAF's thread-safe actor clock, except that `cancel_timeouts` — which CAF calls for every
/// actor that terminates — is passed on only for actors that set a timeout since their last
/// cleanup. CAF's clock hands every call to its dispatch thread (an allocation and a wake-up
/// each): stopping a pool of a million instances, none of which had a timeout, made that thread
/// the busiest of the stop.
///
/// Threads: any (the actor clock protocol); the set of actors with timeouts is guarded by one
/// mutex, held for a hash-set update only.
class runtime_clock final : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            std::uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         std::uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (timed_.erase(self->id()) == 0)
        return; // it never set one: nothing to cancel
    }
    super::cancel_timeouts(self);
  }

private:
  void note(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mutex_};
    timed_.insert(self->id());
  }

  std::mutex mutex_;
  /// Actors (by id, as CAF's clock files their timeouts) that set a timeout since their last
  /// `cancel_timeouts`, which CAF calls when they terminate.
  std::unordered_set<caf::actor_id> timed_;
};

} // namespace loopbridge::detail
