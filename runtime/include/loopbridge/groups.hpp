#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/actor_handle.hpp"
#include "loopbridge/completion_queue.hpp"
#include "loopbridge/future.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

/// One failed member of a group: its position (submission order) and its error.
struct member_failure {
  std::size_t index = 0;
  loopbridge::error error;
};

/// The outcome of `gather`: all values in submission order, or the first failure.
template <class R>
class gathered {
public:
  explicit gathered(std::vector<R> values) : values_(std::move(values)) {}
  explicit gathered(member_failure f) : failure_(std::move(f)), ok_(false) {}

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// The values, in submission order; throws `error_exception` if a member failed.
  std::vector<R>& values() {
    if (!ok_)
      throw error_exception(failure_.error);
    return values_;
  }
  /// The first failure (in completion order); only meaningful when `!ok()`.
  const member_failure& failure() const noexcept { return failure_; }

private:
  std::vector<R> values_;
  member_failure failure_;
  bool ok_ = true;
};

/// Waits for every future and returns all values in submission order, or — as soon as one
/// fails — that first failure (in completion order) with its index. Like asyncio.gather, it does
/// not cancel the others (a `task_group` does). A member still pending at `timeout` fails the
/// gather with `loop.timeout` (the member keeps running). Blocks the calling thread; on a
/// runtime scheduler thread it fails with `loop.would_deadlock`.
template <class R>
gathered<R> gather(std::vector<future<R>> futures,
                   std::chrono::nanoseconds timeout = std::chrono::hours(24 * 365)) {
  completion_queue q;
  for (std::size_t i = 0; i < futures.size(); ++i)
    if (auto t = q.watch(futures[i]); !t)
      return gathered<R>{member_failure{i, t.error()}};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::optional<R>> slots(futures.size());
  for (std::size_t n = 0; n < futures.size(); ++n) {
    auto token = q.pop(deadline - std::chrono::steady_clock::now());
    if (!token) {
      // Report the first member (in submission order) that is still pending.
      std::size_t pending = 0;
      while (pending < futures.size() && futures[pending].ready())
        ++pending;
      return gathered<R>{member_failure{pending, token.error()}};
    }
    auto r = futures[*token].get();
    if (!r)
      return gathered<R>{member_failure{*token, std::move(r).error()}};
    slots[*token].emplace(std::move(*r));
  }
  std::vector<R> values;
  values.reserve(slots.size());
  for (auto& s : slots)
    values.push_back(std::move(*s));
  return gathered<R>{std::move(values)};
}

/// One completed member of `as_completed`: its position in submission order and its outcome.
template <class R>
struct completed {
  std::size_t index = 0;
  result<R> value;
};

/// Yields futures' outcomes in completion order, each with its index in the original vector
/// (the seed keeps a future -> url map for exactly this). Owns the futures. A member that cannot
/// be watched (an invalid future, or one a queue or group watches already) is yielded first,
/// with its `loop.bad_request` error: it never makes `next` wait.
///
///     loopbridge::as_completed<reply> done{std::move(futures)};
///     while (auto c = done.next(5s)) use(c->index, c->value);
///
/// Threads: one consumer thread at a time. `fd()` is pollable (see `completion_queue`).
template <class R>
class as_completed {
public:
  explicit as_completed(std::vector<future<R>> futures) : futures_(std::move(futures)) {
    for (std::size_t i = 0; i < futures_.size(); ++i)
      if (auto watched = queue_.watch(futures_[i], i); !watched)
        unwatched_.push_back(member_failure{i, std::move(watched).error()});
    std::reverse(unwatched_.begin(), unwatched_.end()); // taken from the back: index order
  }

  /// Members not yet returned by `next`.
  std::size_t remaining() const noexcept { return futures_.size() - returned_; }

  /// The next member to complete, waiting up to `timeout`: `loop.timeout` when none completed
  /// in time, `loop.not_found` once every member was returned, `loop.would_deadlock` on a
  /// scheduler thread.
  result<completed<R>> next(std::chrono::nanoseconds timeout = std::chrono::hours(24 * 365)) {
    if (remaining() == 0)
      return error{errc::not_found, "every member was already returned"};
    if (auto u = take_unwatched())
      return std::move(*u);
    auto token = queue_.pop(timeout);
    if (!token)
      return std::move(token).error();
    ++returned_;
    return completed<R>{*token, futures_[*token].get()};
  }
  /// Like `next`, without blocking: nothing when no member has completed yet.
  std::optional<completed<R>> try_next() {
    if (auto u = take_unwatched())
      return u;
    auto token = queue_.try_pop();
    if (!token)
      return std::nullopt;
    ++returned_;
    return completed<R>{*token, futures_[*token].get()};
  }
  int fd() const noexcept { return queue_.fd(); }

private:
  std::optional<completed<R>> take_unwatched() {
    if (unwatched_.empty())
      return std::nullopt;
    auto u = std::move(unwatched_.back());
    unwatched_.pop_back();
    ++returned_;
    return completed<R>{u.index, std::move(u.error)};
  }

  std::vector<future<R>> futures_;
  completion_queue queue_;
  std::vector<member_failure> unwatched_; ///< members the queue could not watch
  std::size_t returned_ = 0;
};

/// Yields futures' outcomes in submission order, each as soon as it and every earlier one have
/// completed: the ordered counterpart of `as_completed`, for results whose order matters (frames
/// of a video, lines of a report) while the work itself runs out of order on a pool. Owns the
/// futures.
///
///     loopbridge::in_order<image_reply> results{std::move(futures)};
///     while (auto c = results.next(5s)) write(c->index, c->value);
///
/// Threads: one consumer thread at a time. Blocks only in `next`.
template <class R>
class in_order {
public:
  explicit in_order(std::vector<future<R>> futures) : futures_(std::move(futures)) {}

  /// Members not yet returned by `next`.
  std::size_t remaining() const noexcept { return futures_.size() - next_; }

  /// The next member in submission order, waiting up to `timeout` for it: `loop.timeout` when
  /// it did not complete in time (call again to keep waiting), `loop.not_found` once every
  /// member was returned. An invalid future is yielded at its turn with `loop.bad_request`.
  result<completed<R>> next(std::chrono::nanoseconds timeout = std::chrono::hours(24 * 365)) {
    if (remaining() == 0)
      return error{errc::not_found, "every member was already returned"};
    auto& f = futures_[next_];
    if (f.valid() && !f.wait_for(timeout))
      return error{errc::timeout, "member " + std::to_string(next_) + " did not complete in time"};
    auto index = next_++;
    return completed<R>{index, f.get()};
  }

private:
  std::vector<future<R>> futures_;
  std::size_t next_ = 0;
};

/// What a task group ended with.
struct group_outcome {
  /// Members that failed on their own, in completion order.
  std::vector<member_failure> failures;
  /// Members the group cancelled because another failed (or the scope exited by exception).
  std::vector<std::size_t> cancelled;
  /// Cancelled members whose worker had not reported them done when the group's deadline passed.
  std::vector<std::size_t> unacknowledged;

  bool ok() const noexcept { return failures.empty() && cancelled.empty(); }
  explicit operator bool() const noexcept { return ok(); }
  /// One error summarising every failure (`loop.worker_failed`-style kinds are kept per member
  /// in `failures`); an empty error when ok.
  loopbridge::error summary() const;
};

/// Structured concurrency for host code, like asyncio.TaskGroup: requests submitted through the
/// group belong to it, and nothing outlives it.
///
/// `wait()` (or the destructor) waits for every member. The first member that fails makes the
/// group cancel all others and wait — up to the group's deadline — until their workers have let
/// go of them; the outcome lists every failure. If the scope is left by an exception, the
/// destructor cancels every member and waits for those acknowledgements the same way.
///
/// Threads: one thread uses a group. `wait` blocks; on a scheduler thread it fails members with
/// `loop.would_deadlock` instead.
class task_group {
public:
  /// `ack_deadline`: how long cancelled members may take to be released by their workers.
  explicit task_group(std::chrono::nanoseconds ack_deadline = std::chrono::seconds(5));
  ~task_group();
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// Submits `request` through `handle` as a member of this group.
  template <class Kind, class Req>
  future<reply_t<Req>> submit(const actor_handle<Kind>& handle, Req request,
                              std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
    auto f = handle.submit(std::move(request), timeout);
    add(f.state().get(), handle.bridge());
    return f;
  }

  /// Waits for all members (see the class comment). Idempotent: later calls return the same.
  const group_outcome& wait();
  /// Cancels every member that has not completed, and waits for the acknowledgements.
  void cancel();
  std::size_t size() const noexcept { return members_.size(); }

private:
  struct member {
    detail::request_ref state;
    std::shared_ptr<detail::bridge> bridge;
  };
  void add(detail::request_state* st, std::shared_ptr<detail::bridge> bridge);
  void cancel_pending();
  void await_acknowledgements();

  std::chrono::nanoseconds ack_deadline_;
  int uncaught_at_start_;
  completion_queue queue_;
  std::vector<member> members_;
  std::vector<bool> reported_;
  group_outcome outcome_;
  bool waited_ = false;
};

} // namespace loopbridge
