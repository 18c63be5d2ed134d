#pragma once

#include <chrono>
#include <memory>

#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {

/// The reply of a request sent by name with its fields as a value (`tools::submit_value`),
/// as a value tree: what scenario files and the CLI use. Same contract as `future<R>`.
class [[nodiscard]] value_future {
public:
  value_future() = default;
  value_future(detail::request_ref st, value (*to_value)(detail::request_state&),
               std::shared_ptr<detail::bridge> bridge)
      : state_(std::move(st)),
        to_value_(to_value),
        bridge_(std::move(bridge)) {}

  bool valid() const noexcept { return static_cast<bool>(state_); }
  std::uint64_t id() const noexcept { return state_ ? state_->id : 0; }
  bool ready() const noexcept { return state_ && state_->resolved(); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    if (!state_)
      return false;
    if (state_->resolved() || detail::blocking_forbidden())
      return state_->resolved();
    return state_->wait_until(detail::clock::now() +
                              std::chrono::duration_cast<detail::clock::duration>(timeout));
  }
  /// Blocks until ready; the reply as a value, or the error.
  result<value> get() {
    if (!state_)
      return error{errc::bad_request, "get() on an invalid future"};
    if (!state_->resolved()) {
      if (detail::blocking_forbidden())
        return error{errc::would_deadlock,
                     "value_future::get() on a runtime scheduler thread would stall the runtime"};
      state_->wait();
    }
    auto st = std::move(state_);
    if (st->failed())
      return st->error();
    return to_value_ ? to_value_(*st) : value{};
  }
  void cancel() {
    if (state_ && !state_->resolved() && bridge_)
      bridge_->cancel(state_);
  }
  const detail::request_ref& state() const noexcept { return state_; }

private:
  detail::request_ref state_;
  value (*to_value_)(detail::request_state&) = nullptr;
  std::shared_ptr<detail::bridge> bridge_;
};

} // namespace loopbridge
