#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "loopbridge/detail/unique_function.hpp"
#include "loopbridge/error.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/responder.hpp"

namespace loopbridge {

/// Where an actor kind's handlers run.
enum class execution {
  /// On the runtime's scheduler threads (one per core by default), in parallel with other
  /// actors, one handler of an instance at a time: handlers must never block (use
  /// `worker_context::after` for delays, another thread for blocking I/O). A handler that runs
  /// longer than `runtime.slow_handler` is reported (`slow_handler` event): such a kind should be
  /// `dedicated_thread`.
  scheduled,
  /// On a thread of the instance's own: handlers may block (CPU-bound work, blocking libraries).
  /// If a handler never returns, shutdown leaves that thread behind and reports it.
  dedicated_thread,
  /// On a thread the worker owns itself (an I/O loop): its constructor calls
  /// `worker_context::serve_on_own_thread`, and the runtime hands requests straight to that
  /// thread, without a scheduler thread in between. The constructor runs on a scheduler thread.
  own_thread,
};

/// The requests of an instance whose worker serves them on a thread of its own (see
/// `worker_context::serve_on_own_thread`).
///
/// Threads: `serve` from the worker's own thread only. The object stays valid after the
/// instance stopped (then `serve` does nothing), so the thread may keep it to its end.
class request_intake {
public:
  virtual ~request_intake() = default;
  /// Runs, on the calling thread, the worker's `on_cancel` for waiting cancels, posted tasks,
  /// then the handlers of up to `budget` waiting requests. Returns true if more may be waiting
  /// (call again soon), false when none was left (the next arrival calls `wake` again).
  virtual bool serve(std::size_t budget = 64) = 0;
};

/// What the runtime offers one worker instance. Owned by the runtime; valid for the lifetime of
/// the worker object it was given to. Unless stated otherwise, members may only be called on the
/// instance's own thread (inside its handlers and callbacks).
class worker_context {
public:
  using duration = std::chrono::nanoseconds;
  using task = detail::unique_function;

  virtual ~worker_context() = default;

  /// The actor's name and this instance's index (0 .. count-1).
  virtual const std::string& actor_name() const noexcept = 0;
  virtual std::uint32_t instance() const noexcept = 0;
  /// The validated parameters.
  virtual const loopbridge::params& params() const noexcept = 0;

  /// Runs `fn` on this instance after `delay`, as a message: never concurrently with its
  /// handlers, on whatever thread the instance runs on (non-blocking on every kind).
  virtual void after(duration delay, task fn) = 0;
  /// Runs `fn` on this instance as soon as possible. Any thread may call it; tasks posted after
  /// the instance stopped are dropped.
  virtual void post(task fn) = 0;
  /// Makes this instance fail once the current handler returns, like a crash: the requests it
  /// holds fail with `loop.worker_failed` and its restart policy applies.
  virtual void crash(error reason) = 0;

  // -- start ------------------------------------------------------------------------------------
  // By default an instance is ready as soon as its worker is constructed. A worker whose
  // resources come up later (a session, a listening socket) calls `defer_ready()` in its
  // constructor and then exactly one of `ready()` or `start_failed()`, from its own thread.
  // Requests that arrive meanwhile wait in the actor's queue; if neither comes within the
  // actor's `ready_timeout`, the start fails with `loop.start_failed`.

  /// Announces that the instance will call `ready()` or `start_failed()` itself.
  virtual void defer_ready() = 0;
  /// The instance's resources are up: it takes requests from now on. `info` (a map, e.g. the
  /// port it listens on) travels in its `ready` event.
  virtual void ready(value info = {}) = 0;
  /// The instance cannot start: it ends, its actor reports `start_failed` with `reason`.
  virtual void start_failed(error reason) = 0;

  /// For kinds of `execution::own_thread`, from the worker's constructor: requests (and
  /// cancels, and tasks from `post`/`after`) wait for the worker's own thread, which runs them by
  /// calling `serve()` on the returned intake. `wake` is called — from any thread, and must not
  /// block — whenever some wait while the thread may be idle (it typically interrupts a poll);
  /// never after the worker was destroyed.
  /// Handlers then never run concurrently with each other: all run on that one thread.
  virtual std::shared_ptr<request_intake> serve_on_own_thread(std::function<void()> wake) = 0;

  /// Starts `body` on a new thread owned by the runtime (an I/O loop, a library's event loop),
  /// named `name` in logs and the OS. Runtime shutdown joins it, or — if it does not end within
  /// the shutdown budget — leaves it behind and names it with `describe()` in the report. The
  /// worker must make `body` return when the worker goes away. Any thread may call it.
  virtual void start_thread(std::string name, std::function<void()> body,
                            std::function<std::string()> describe = {}) = 0;
};

/// Base of every actor kind's worker class.
///
/// A kind's worker class is constructed on its instance's thread with the instance's
/// `worker_context&`, and provides one handler per request type it serves:
///
///     void handle(my_request& request, responder<my_reply>& r);
///
/// A handler answers through `r` now or later (moving `r` away). An exception escaping a handler
/// fails that one request with `loop.worker_failed`; the instance lives on.
class worker {
public:
  virtual ~worker() = default;
  /// A request this instance was handed was cancelled (by the host or its deadline). The
  /// request's responder already reports `cancelled()`; kinds that hold requests without
  /// polling (timers, I/O) answer or drop them here. Default: nothing.
  virtual void on_cancel(std::uint64_t request_id) { (void)request_id; }
};

} // namespace loopbridge
