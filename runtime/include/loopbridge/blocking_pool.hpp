#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "loopbridge/cancel_token.hpp"
#include "loopbridge/detail/actor_record.hpp"
#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/detail/offload_state.hpp"
#include "loopbridge/future.hpp"

namespace loopbridge {

namespace detail {

/// Binds `fn` to copies of `args`; the bound function takes the cancel token first if `fn`
/// accepts one.
template <class F, class... Args>
auto bind_offload(F fn, Args... args) {
  if constexpr (std::is_invocable_v<F&, const cancel_token&, Args&...>) {
    return [fn = std::move(fn), tup = std::make_tuple(std::move(args)...)](
               const cancel_token& token) mutable -> decltype(auto) {
      return std::apply([&](auto&... a) -> decltype(auto) { return std::invoke(fn, token, a...); },
                        tup);
    };
  } else {
    static_assert(std::is_invocable_v<F&, Args&...>,
                  "offload(fn, args...): fn must be callable with args (optionally preceded by "
                  "a const cancel_token&)");
    return [fn = std::move(fn),
            tup = std::make_tuple(std::move(args)...)]() mutable -> decltype(auto) {
      return std::apply([&](auto&... a) -> decltype(auto) { return std::invoke(fn, a...); }, tup);
    };
  }
}

template <class F, class... Args>
using offload_future_t = future<typename offload_state<decltype(bind_offload(
    std::declval<std::decay_t<F>>(), std::declval<std::decay_t<Args>>()...))>::reply_type>;

} // namespace detail

/// A handle to a blocking pool: an actor (kind `blocking`, or any kind that serves offloaded
/// functions) whose instances each own a thread on which functions may block — file and
/// database calls, blocking libraries, CPU work that must not stall the event loop. Obtained
/// from `runtime::pool(name)`; the default pool is behind `runtime::offload`.
///
/// `offload(fn, args...)` copies `fn` and `args` into the request and runs `fn(args...)` — or
/// `fn(token, args...)` when `fn` accepts a `const cancel_token&` first — on one of the pool's
/// threads, with the submitting thread's context current. The future resolves with its result
/// (`no_value` for void), `loop.worker_failed` carrying the message if it throws,
/// `loop.cancelled` / `loop.timeout` if it is cancelled or its deadline passes first (then its
/// token reports `cancelled()`; whatever it returns later is discarded).
///
/// A function running on a pool may itself submit to actors and wait for the answers (the
/// pool's threads are not scheduler threads), so code ported from `sync_wait`-style helpers
/// works, even on a pool of one thread.
///
/// Threads: any host thread, and pool threads. Cheap to copy. Ordering: like `actor_handle`.
class blocking_pool {
public:
  using duration = std::chrono::nanoseconds;

  blocking_pool() = default;
  blocking_pool(std::shared_ptr<const detail::actor_record> record,
                std::shared_ptr<detail::bridge> bridge)
      : record_(std::move(record)),
        bridge_(std::move(bridge)) {}

  bool valid() const noexcept { return static_cast<bool>(record_); }
  const std::string& name() const noexcept { return record_->spec.name; }

  /// The same pool, with `timeout` as the deadline of what is offloaded through the copy
  /// (zero: the runtime's default deadline).
  blocking_pool with_timeout(duration timeout) const {
    auto copy = *this;
    copy.timeout_ = timeout;
    return copy;
  }

  /// Runs `fn(args...)` on the pool; never blocks.
  template <class F, class... Args>
  [[nodiscard]] detail::offload_future_t<F, Args...> offload(F&& fn, Args&&... args) const {
    auto bound = detail::bind_offload(std::decay_t<F>(std::forward<F>(fn)),
                                      std::decay_t<Args>(std::forward<Args>(args))...);
    using state = detail::offload_state<decltype(bound)>;
    using R = typename state::reply_type;
    auto st = detail::make_ref<state>(std::move(bound));
    st->target = record_.get();
    detail::ref_ptr<detail::reply_state<R>> typed = st;
    bridge_->submit(detail::request_ref::share(typed.get()), timeout_);
    return future<R>{std::move(typed), bridge_};
  }

  /// The pool's record (for the runtime).
  const std::shared_ptr<const detail::actor_record>& record() const noexcept { return record_; }

private:
  std::shared_ptr<const detail::actor_record> record_;
  std::shared_ptr<detail::bridge> bridge_;
  duration timeout_ = duration::zero();
};

} // namespace loopbridge
