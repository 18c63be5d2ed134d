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

/// True on threads where blocking would stall the runtime (its scheduler threads and its event
/// loop's thread). Blocking host calls check it and fail with `loop.would_deadlock`.
bool blocking_forbidden() noexcept;

struct actor_record;

/// A blocking wait for a request to `target`, checked for deadlock before it starts (RAII):
/// refused on a thread where blocking is forbidden, and on a dedicated instance's thread that
/// waits on its own actor when no other instance of it is left to serve the request (every
/// other one waits the same way, or there is none). Other cycles end at their deadline.
///
/// Threads: the waiting thread; the count it keeps per actor is atomic.
class blocking_wait {
public:
  /// `what` names the call in the error ("call()", "future::get()").
  blocking_wait(const actor_record* target, const char* what) noexcept;
  ~blocking_wait();
  blocking_wait(const blocking_wait&) = delete;
  blocking_wait& operator=(const blocking_wait&) = delete;
  /// The `loop.would_deadlock` error if the wait was refused, else null.
  const error* refused() const noexcept { return refused_ ? &error_ : nullptr; }

private:
  const actor_record* counted_ = nullptr;
  bool refused_ = false;
  error error_;
};

} // namespace loopbridge::detail
