#pragma once

#include <chrono>
#include <cstdint>

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// The host side of the event loop: how host threads (and worker threads) hand requests to the
/// loop. Implemented by the runtime; every member is thread-safe and non-blocking. After the
/// runtime stopped, `submit` fails the request at once with `loop.stopped`.
class bridge {
public:
  virtual ~bridge() = default;
  /// Stamps id, deadline and context on `st` and hands it to the event loop.
  /// `timeout` <= 0 means the runtime's default deadline.
  virtual void submit(request_ref st, clock::duration timeout) noexcept = 0;
  /// Cancels `st` (resolving it with `loop.cancelled` unless it already completed) and tells the
  /// worker holding it.
  virtual void cancel(request_ref st) noexcept = 0;
};

/// True on threads where blocking would stall the runtime (CAF scheduler threads running actor
/// handlers). Blocking host calls check it and fail with `loop.would_deadlock`.
bool blocking_forbidden() noexcept;

} // namespace loopbridge::detail
