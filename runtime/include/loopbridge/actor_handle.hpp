#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "loopbridge/detail/actor_record.hpp"
#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/future.hpp"
#include "loopbridge/kind.hpp"

namespace loopbridge {

/// A typed handle to a named actor of kind `Kind`, obtained from `runtime::actor<Kind>(name)`.
///
/// Submitting a request type the kind does not serve is a compile error, and so is reading a
/// reply as the wrong type. Handles are cheap to copy and thread-safe: any number of threads
/// may submit through the same handle concurrently. A handle that outlives its runtime stays
/// safe: submits fail at once with `loop.stopped`.
///
/// Ordering: requests submitted by one thread reach the actor in submission order (for a pool,
/// they are handed out in that order; replies may complete in any order).
template <class Kind>
class actor_handle {
public:
  using duration = std::chrono::nanoseconds;

  actor_handle() = default;
  actor_handle(std::shared_ptr<const detail::actor_record> record,
               std::shared_ptr<detail::bridge> bridge)
      : record_(std::move(record)),
        bridge_(std::move(bridge)) {}

  bool valid() const noexcept { return static_cast<bool>(record_); }
  const std::string& name() const noexcept { return record_->spec.name; }

  /// Submits `request`; the future resolves with its reply or error. Never blocks. `timeout`
  /// sets the request's deadline (zero: the runtime's default deadline); when it passes, the
  /// request resolves with `loop.timeout` and the worker sees its cancel token.
  template <class Req>
  [[nodiscard]] future<reply_t<Req>> submit(Req request,
                                            duration timeout = duration::zero()) const {
    static_assert(handles_v<Kind, Req>,
                  "this actor kind does not serve this request type (see Kind::requests)");
    using R = reply_t<Req>;
    auto st = detail::make_ref<detail::typed_request_state<Req>>(std::move(request));
    st->target = record_.get();
    detail::ref_ptr<detail::reply_state<R>> typed = st;
    bridge_->submit(detail::request_ref::share(typed.get()), timeout);
    return future<R>{std::move(typed), bridge_};
  }

  /// Submits `request` and waits for its reply, at most `timeout` (which is also the request's
  /// deadline). Returns the reply or the error (`loop.timeout`, the worker's error, ...).
  /// Blocks the calling thread; fails at once with `loop.would_deadlock` on a scheduler thread,
  /// and on a dedicated instance's thread calling its own actor when no other instance of it is
  /// left to serve the request.
  template <class Req, class Rep, class Period>
  result<reply_t<Req>> call(Req request, std::chrono::duration<Rep, Period> timeout) const {
    detail::blocking_wait wait{record_.get(), "call()"};
    if (auto* refused = wait.refused())
      return *refused;
    auto f = submit(std::move(request), std::chrono::duration_cast<duration>(timeout));
    f.state()->wait();
    return f.get();
  }

  /// The bridge this handle submits through (for groups).
  const std::shared_ptr<detail::bridge>& bridge() const noexcept { return bridge_; }
  /// The actor's record (for pipelines).
  const std::shared_ptr<const detail::actor_record>& record() const noexcept { return record_; }

private:
  std::shared_ptr<const detail::actor_record> record_;
  std::shared_ptr<detail::bridge> bridge_;
};

} // namespace loopbridge
