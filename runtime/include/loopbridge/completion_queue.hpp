#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "loopbridge/future.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

namespace detail {
class completion_channel;
}

/// Reports futures in the order they complete, and exposes a pollable file descriptor, so a host
/// with its own event loop (a GUI, a select/epoll server) needs no thread just to wait.
///
/// `watch(f)` returns a token; `pop` yields tokens as their futures complete; the future itself
/// stays with the caller, who then reads it with `get()` (which no longer blocks). A host that
/// keeps a window of requests going through one long-lived queue names the token itself,
/// `watch(f, slot)`, and reuses its slots: the queue's memory follows the requests watched and
/// not yet popped, not every request it ever saw.
///
/// Threads: `watch`, `try_pop` and `pop` from one thread at a time; completions are recorded
/// lock-free from whatever thread completes a request; `fd()` may be polled from any thread.
/// The fd is readable while completions wait to be popped (spurious readiness is possible:
/// `try_pop` then returns nothing, and clears it). A future can be watched by one queue (or
/// group) only.
class completion_queue {
public:
  completion_queue();
  ~completion_queue();
  completion_queue(completion_queue&&) noexcept;
  completion_queue& operator=(completion_queue&&) noexcept;

  /// Starts watching `f`; the token is the number of futures watched before it (0, 1, ...).
  /// `loop.bad_request` if `f` is invalid or already watched elsewhere.
  template <class R>
  result<std::size_t> watch(const future<R>& f) {
    return watch_state(f.state().get(), watched_);
  }
  /// Starts watching `f`, which `pop` will report as `token` (any value, e.g. the caller's slot
  /// or index; tokens need not be unique). `loop.bad_request` as above.
  template <class R>
  result<std::size_t> watch(const future<R>& f, std::size_t token) {
    return watch_state(f.state().get(), token);
  }

  /// The token of the oldest completion not yet popped, if any. Never blocks.
  std::optional<std::size_t> try_pop();
  /// Waits up to `timeout` for a completion: `loop.timeout` if none came,
  /// `loop.would_deadlock` on a runtime scheduler thread (when none is ready).
  result<std::size_t> pop(std::chrono::nanoseconds timeout);

  /// Readable while completions wait to be popped.
  int fd() const noexcept;
  /// Watches a request state directly (for groups that hold type-erased members).
  result<std::size_t> watch_state_of(detail::request_state* st) {
    return watch_state(st, watched_);
  }
  result<std::size_t> watch_state_of(detail::request_state* st, std::size_t token) {
    return watch_state(st, token);
  }
  /// Futures watched so far.
  std::size_t watched() const noexcept { return watched_; }

private:
  result<std::size_t> watch_state(detail::request_state* st, std::size_t token);

  detail::ref_ptr<detail::completion_channel> channel_;
  std::size_t watched_ = 0;
};

} // namespace loopbridge
