#pragma once

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge {

/// What an offloaded function (or a stream's producer) polls to learn that its caller no longer
/// wants the result: the request was cancelled, its deadline passed, or the runtime is
/// stopping. Long-running functions check it between steps and return early; whatever they
/// return then is discarded.
///
/// Threads: any; `cancelled` never blocks. Valid while the function it was passed to runs.
class cancel_token {
public:
  explicit cancel_token(const detail::request_state* st) noexcept : st_(st) {}

  /// True once the work was cancelled.
  bool cancelled() const noexcept { return st_->cancel_requested(); }
  /// The absolute deadline (steady clock); `time_point::max()` when there is none.
  detail::time_point deadline() const noexcept { return st_->deadline; }

private:
  const detail::request_state* st_;
};

} // namespace loopbridge
