#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/detail/type_tag.hpp"
#include "loopbridge/detail/unique_function.hpp"
#include "loopbridge/error.hpp"
#include "loopbridge/execution.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/responder.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

template <class Kind>
class actor_handle;
template <class R>
class future;

namespace detail {
struct actor_record;
class bridge;
/// The outcome of a resolved request made by a worker, as its continuation sees it: a failure
/// names the actor it came from (defined in the runtime).
error failure_from(const request_state& st, error e);
} // namespace detail

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

  // -- other actors ------------------------------------------------------------------------------
  // A worker asks other actors (or its own actor) the way host code does, but never waits: it
  // sends a request and names the code to run when the outcome arrives. That continuation runs
  // later on this instance, *as a message* — never concurrently with its handlers, never inside
  // the call that completed the request, on whatever thread the instance runs on — or never, if
  // the instance stopped or was restarted meanwhile. A handler that moves its responder into a
  // continuation answers later: its request is *suspended*, and the instance serves others.
  //
  // Requests made while handling a request (in its handler or in a continuation of it) inherit
  // its context and what is left of its deadline; when that request is cancelled (by the host,
  // its deadline, or the instance stopping or dying) the requests it made that are still pending
  // are cancelled too.

  /// A typed handle to the actor `name`: `loop.not_found` if there is none, `loop.wrong_kind` if
  /// it is not of kind `Kind`. Never blocks.
  template <class Kind>
  result<actor_handle<Kind>> actor(std::string_view name) const {
    auto rec = find_actor(name, detail::tag_of<Kind>(), Kind::name);
    if (!rec)
      return std::move(rec).error();
    return actor_handle<Kind>{std::move(*rec), peer_bridge()};
  }

  /// Sends `request` to `to` on behalf of the request being handled now (see above) and returns
  /// its future, for `then`, `when_all` or `gather`. Never blocks: a request to a full actor
  /// whose overflow policy is `block` waits in the event loop for a place, until its deadline
  /// (`loop.timeout`). `timeout` as in `actor_handle::submit`, capped by the current request's
  /// deadline.
  template <class Kind, class Req>
  future<typename Req::reply_type> submit(const actor_handle<Kind>& to, Req request,
                                          duration timeout = duration::zero()) {
    auto f = to.submit(std::move(request), timeout);
    track_request(f.state().get());
    return f;
  }

  /// Runs `fn(result<R>)` on this instance, as a message, once `f` resolved.
  template <class R, class F>
  void then(future<R> f, F fn) {
    static_assert(std::is_invocable_v<F&, result<R>>, "then(f, fn) calls fn(result<R>)");
    detail::request_state* states[] = {f.state().get()};
    continue_after(states, 1, false,
                   task{[f = std::move(f), fn = std::move(fn)]() mutable { fn(outcome_of(f)); }});
  }

  /// `submit(to, request, timeout)` followed by `then`: `fn(result<reply>)` runs on this
  /// instance when the reply (or error) arrives.
  template <class Kind, class Req, class F>
  void request(const actor_handle<Kind>& to, Req request, F fn,
               duration timeout = duration::zero()) {
    then(submit(to, std::move(request), timeout), std::move(fn));
  }

  /// Fan-in over all outcomes: runs `fn(result<R1>, result<R2>, ...)`, in the futures' order,
  /// once every one resolved.
  template <class F, class... R>
  void when_all(F fn, future<R>... fs) {
    static_assert(sizeof...(R) > 0, "when_all needs at least one future");
    detail::request_state* states[] = {fs.state().get()...};
    continue_after(states, sizeof...(R), false,
                   task{[t = std::make_tuple(std::move(fs)...), fn = std::move(fn)]() mutable {
                     std::apply([&](auto&... f) { fn(outcome_of(f)...); }, t);
                   }});
  }
  /// Fan-in over all outcomes of futures of one type: `fn(std::vector<result<R>>)`, in order.
  template <class R, class F>
  void when_all(std::vector<future<R>> fs, F fn) {
    auto states = states_of(fs);
    continue_after(states.data(), states.size(), false,
                   task{[fs = std::move(fs), fn = std::move(fn)]() mutable {
                     std::vector<result<R>> all;
                     all.reserve(fs.size());
                     for (auto& f : fs)
                       all.push_back(outcome_of(f));
                     fn(std::move(all));
                   }});
  }

  /// Fan-in that stops at the first failure, like the host's `gather`: runs
  /// `fn(result<std::tuple<R1, R2, ...>>)` with every reply once all succeeded, or with the
  /// first failure (in completion order) as soon as one fails; the others still pending are
  /// then cancelled.
  template <class F, class... R>
  void gather(F fn, future<R>... fs) {
    static_assert(sizeof...(R) > 0, "gather needs at least one future");
    detail::request_state* states[] = {fs.state().get()...};
    continue_after(
        states, sizeof...(R), true,
        task{[this, t = std::make_tuple(std::move(fs)...), fn = std::move(fn)]() mutable {
          std::apply(
              [&](auto&... f) {
                const detail::request_state* members[] = {f.state().get()...};
                if (auto i = first_failed(); i < sizeof...(R)) {
                  (f.cancel(), ...);
                  auto& failed = *members[i];
                  fn(result<std::tuple<R...>>{detail::failure_from(failed, failed.error())});
                } else {
                  fn(result<std::tuple<R...>>{std::make_tuple(f.get().value()...)});
                }
              },
              t);
        }});
  }
  /// `gather` over futures of one type: `fn(result<std::vector<R>>)`.
  template <class R, class F>
  void gather(std::vector<future<R>> fs, F fn) {
    auto states = states_of(fs);
    continue_after(states.data(), states.size(), true,
                   task{[this, fs = std::move(fs), fn = std::move(fn)]() mutable {
                     if (auto i = first_failed(); i < fs.size()) {
                       auto failed = fs[i].state(); // kept: cancelling the others drops nothing
                       for (auto& f : fs)
                         f.cancel();
                       fn(result<std::vector<R>>{detail::failure_from(*failed, failed->error())});
                       return;
                     }
                     std::vector<R> values;
                     values.reserve(fs.size());
                     for (auto& f : fs)
                       values.push_back(f.get().value());
                     fn(result<std::vector<R>>{std::move(values)});
                   }});
  }

protected:
  // -- what the templates above stand on (implemented by the runtime) ----------------------------

  /// The actor `name`, checked to be of `kind` (see `runtime::actor`).
  virtual result<std::shared_ptr<const detail::actor_record>>
  find_actor(std::string_view name, const detail::type_tag* kind,
             std::string_view kind_name) const = 0;
  /// What handles made by `actor` submit through.
  virtual std::shared_ptr<detail::bridge> peer_bridge() const = 0;
  /// Files `st`, just submitted by this instance, under the request being handled now, so that
  /// cancelling that request cancels `st` too.
  virtual void track_request(detail::request_state* st) = 0;
  /// The states behind `fs`, in order (what `continue_after` waits on).
  template <class R>
  static std::vector<detail::request_state*> states_of(const std::vector<future<R>>& fs) {
    std::vector<detail::request_state*> out;
    out.reserve(fs.size());
    for (auto& f : fs)
      out.push_back(f.state().get());
    return out;
  }
  /// Posts `fn` to this instance as a message once all `n` requests resolved — or, with
  /// `stop_at_failure`, as soon as one fails. `fn` then runs with the context, deadline and
  /// request of the code that called this, and owns the futures of those requests.
  virtual void continue_after(detail::request_state* const* states, std::size_t n,
                              bool stop_at_failure, task fn) = 0;
  /// Inside a continuation posted by `continue_after` with `stop_at_failure`: the position of
  /// the request whose failure posted it (the first to fail, in completion order); otherwise
  /// (all succeeded, or any other code) a value past the last position.
  virtual std::size_t first_failed() const noexcept = 0;

private:
  template <class R>
  static result<R> outcome_of(future<R>& f) {
    if (!f.state() || !f.state()->failed())
      return f.get();
    auto st = f.state(); // `get` lets go of the state; its target names the failure's origin
    auto r = f.get();
    return detail::failure_from(*st, std::move(r).error());
  }
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

// `worker_context::actor` and `submit` name `actor_handle`, which needs the kind machinery that
// includes this header: both come after the definitions above, so any of the three headers may
// be included first.
#include "loopbridge/kind.hpp"
