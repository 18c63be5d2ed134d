#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

/// The eventual reply (or error) of one submitted request.
///
/// Threads: a future is a handle owned by one thread at a time (like std::future); it may be
/// moved to another thread. `cancel`, `ready` and `wait_*` may be called from any thread that
/// holds it. Blocking calls (`get`, `wait_*` with a positive timeout) made on a runtime
/// scheduler thread do not block: `get` returns `loop.would_deadlock` and `wait_*` return at
/// once. `get` on a dedicated instance's thread, for a request to its own actor that no other
/// instance is left to serve, also returns `loop.would_deadlock` at once.
///
/// Ordering: the reply or error is set exactly once; once `ready()` returns true, `get()`
/// returns without blocking, and everything the worker wrote before replying is visible.
/// A future outliving its runtime still resolves (with `loop.stopped` if the runtime stopped
/// before the reply); it never hangs.
template <class R>
class future {
public:
  future() = default;
  future(detail::ref_ptr<detail::reply_state<R>> st, std::shared_ptr<detail::bridge> b)
      : state_(std::move(st)),
        bridge_(std::move(b)) {}

  /// False for a default-constructed future or after `get()`.
  bool valid() const noexcept { return static_cast<bool>(state_); }
  /// The request's id (unique within the runtime).
  std::uint64_t id() const noexcept { return state_ ? state_->id : 0; }
  /// True once the reply or error is available. Never blocks.
  bool ready() const noexcept { return state_ && state_->resolved(); }

  /// Blocks until ready or `timeout` elapsed; returns `ready()`. Does not cancel.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return wait_until(detail::clock::now() +
                      std::chrono::duration_cast<detail::clock::duration>(timeout));
  }
  /// Blocks until ready or `deadline`; returns `ready()`. Does not cancel.
  bool wait_until(detail::time_point deadline) const {
    if (!state_)
      return false;
    if (state_->resolved() || detail::blocking_forbidden())
      return state_->resolved();
    return state_->wait_until(deadline);
  }

  /// Blocks until ready, then returns the reply or the error and invalidates the future.
  result<R> get() {
    if (!state_)
      return error{errc::bad_request, "get() on an invalid future"};
    if (!state_->resolved()) {
      detail::blocking_wait wait{state_->target, "future::get()"};
      if (auto* refused = wait.refused())
        return *refused;
      state_->wait();
    }
    auto st = std::move(state_);
    if (st->failed())
      return st->error();
    return std::move(*st->reply);
  }

  /// Cancels the request: unless it already completed, the future resolves with
  /// `loop.cancelled`; a queued request is removed without running; a running one sees its
  /// cancel token. Idempotent; never blocks.
  void cancel() {
    if (state_ && !state_->resolved() && bridge_)
      bridge_->cancel(state_);
  }

  /// For completion queues and groups: the shared state.
  const detail::ref_ptr<detail::reply_state<R>>& state() const noexcept { return state_; }

private:
  detail::ref_ptr<detail::reply_state<R>> state_;
  std::shared_ptr<detail::bridge> bridge_;
};

} // namespace loopbridge
