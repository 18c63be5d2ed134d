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
  /// worker holding it. True if this call decided the outcome.
  virtual bool cancel(request_ref st) noexcept = 0;
};

/// The deadline of the request whose handler runs on the calling thread, or
/// `time_point::max()`. Requests submitted from inside a handler inherit it (capped).
time_point current_request_deadline() noexcept;

/// Makes `deadline` the calling thread's current request deadline for the scope.
class request_deadline_scope {
public:
  explicit request_deadline_scope(time_point deadline) noexcept;
  ~request_deadline_scope();
  request_deadline_scope(const request_deadline_scope&) = delete;
  request_deadline_scope& operator=(const request_deadline_scope&) = delete;

private:
  time_point previous_;
};

/// True on threads where blocking would stall the runtime (CAF scheduler threads running actor
/// handlers). Blocking host calls check it and fail with `loop.would_deadlock`.
bool blocking_forbidden() noexcept;

} // namespace loopbridge::detail
