#pragma once

#include <chrono>

#include "loopbridge/runtime.hpp"

namespace loopbridge {

/// An actor whose lifetime is a scope of host code (the seed's `async with
/// AsyncImageProcessor() as worker`): spawned by `scoped_actor::spawn`, stopped when the object
/// is destroyed — a draining stop with `stop_timeout`, waited for until the actor reported
/// `stopped`.
///
/// Threads: use from one host thread (the handle it gives out may be shared freely). Not for
/// use inside actor handlers (stopping waits).
template <class Kind>
class scoped_actor {
public:
  /// Spawns `spec` in `rt` (which must outlive this object).
  static result<scoped_actor>
  spawn(runtime& rt, actor_spec spec,
        std::chrono::nanoseconds stop_timeout = std::chrono::seconds(5)) {
    auto name = spec.name;
    if (auto ok = rt.spawn(std::move(spec)); !ok)
      return ok.error();
    auto h = rt.actor<Kind>(name);
    if (!h)
      return std::move(h).error();
    return scoped_actor{rt, std::move(*h), stop_timeout};
  }

  scoped_actor(scoped_actor&& other) noexcept
      : rt_(other.rt_),
        handle_(std::move(other.handle_)),
        stop_timeout_(other.stop_timeout_) {
    other.rt_ = nullptr;
  }
  scoped_actor& operator=(scoped_actor&&) = delete;
  ~scoped_actor() { (void)stop(); } // its outcome is in the stop report and events

  const actor_handle<Kind>& handle() const noexcept { return handle_; }
  const actor_handle<Kind>* operator->() const noexcept { return &handle_; }

  /// Stops the actor now and waits for its `stopped` event (idempotent); a no-op result once
  /// stopped.
  result<stopped_event> stop() {
    if (!rt_)
      return error{errc::stopped, "already stopped"};
    auto* rt = std::exchange(rt_, nullptr);
    return rt->stop_actor(handle_.name(), stop_timeout_).get();
  }

private:
  scoped_actor(runtime& rt, actor_handle<Kind> h, std::chrono::nanoseconds stop_timeout)
      : rt_(&rt),
        handle_(std::move(h)),
        stop_timeout_(stop_timeout) {}

  runtime* rt_;
  actor_handle<Kind> handle_;
  std::chrono::nanoseconds stop_timeout_;
};

} // namespace loopbridge
