#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "loopbridge/actor_handle.hpp"
#include "loopbridge/actor_spec.hpp"
#include "loopbridge/events.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/runtime_options.hpp"

namespace loopbridge {

namespace detail {
class runtime_core;
}

/// A running loopbridge system: the actor scheduler, the event-loop actor that bridges host
/// threads and actors, and the actors spawned into it.
///
/// RAII: the constructor starts the scheduler and the event loop; the destructor performs the
/// graceful stop (see `stop`). Host threads talk to actors only through handles and futures.
///
/// Threads: `spawn`, `actor` and `stop` may be called from any host thread, concurrently.
/// None of them may be called from inside an actor's handler.
class runtime {
public:
  explicit runtime(kind_registry kinds, runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Validates `spec` against its kind (unknown kind, bad params, duplicate name...) and starts
  /// its instances. Returns once the actor is accepted: requests may be submitted at once and
  /// are queued until its instances are ready. Nothing is started when validation fails.
  result<void> spawn(actor_spec spec);
  /// Shorthand for a single-instance actor with default settings.
  result<void> spawn(std::string name, std::string kind, value params = {});

  /// A typed handle to the actor `name`; `loop.not_found` if there is none, `loop.wrong_kind`
  /// if it is not of kind `Kind`.
  template <class Kind>
  result<actor_handle<Kind>> actor(std::string_view name) const {
    auto rec = find(name, detail::tag_of<Kind>(), Kind::name);
    if (!rec)
      return std::move(rec).error();
    return actor_handle<Kind>{std::move(*rec), bridge()};
  }

  /// A bounded inbox of lifecycle events (ready, start_failed, done, stopped, restarted) for
  /// the types and actors `s` names. In effect as soon as this returns: events caused by later
  /// calls of this thread are delivered. After the runtime stopped, the inbox ends with
  /// `loop.stopped`.
  event_inbox subscribe(subscription s = {});

  /// Stops the runtime: every pending request resolves (`loop.stopped` if it could not
  /// complete), actors stop, threads are joined. Idempotent; later submits fail at once with
  /// `loop.stopped`.
  void stop();

  const runtime_options& options() const noexcept;

private:
  result<std::shared_ptr<const detail::actor_record>>
  find(std::string_view name, const detail::type_tag* kind, std::string_view kind_name) const;
  std::shared_ptr<detail::bridge> bridge() const;

  std::shared_ptr<detail::runtime_core> core_;
};

} // namespace loopbridge
