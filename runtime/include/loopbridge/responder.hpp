#pragma once

#include <cstdint>
#include <exception>
#include <utility>

#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/request_state.hpp"

namespace loopbridge {

/// A worker's obligation to answer one request with a reply of type `R` or an error.
///
/// The worker's handler receives it by reference; a handler that answers later moves it
/// somewhere (a member, a timer, another thread) and calls `reply` or `fail` then.
/// Exactly one of them takes effect; if the request was cancelled or timed out meanwhile, the
/// answer is discarded. A responder destroyed without answering fails the request with
/// `loop.worker_failed`, so a request is never left hanging.
///
/// Threads: `reply`, `fail` and `cancelled` may be called from any thread, by one thread at a
/// time (the responder itself is not synchronised; the request state it answers is).
template <class R>
class responder {
public:
  responder(detail::ref_ptr<detail::reply_state<R>> st,
            detail::ref_ptr<detail::completion_sink> sink)
      : state_(std::move(st)),
        sink_(std::move(sink)) {}
  responder(responder&&) noexcept = default;
  responder& operator=(responder&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::move(other.state_);
      sink_ = std::move(other.sink_);
    }
    return *this;
  }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder() { abandon(); }

  /// True until `reply` or `fail` was called.
  bool pending() const noexcept { return static_cast<bool>(state_); }
  /// The request's id.
  std::uint64_t id() const noexcept { return state_ ? state_->id : 0; }
  /// The context captured when the request was submitted.
  const loopbridge::context& request_context() const noexcept { return state_->context; }
  /// When the request was submitted (steady clock): a worker's own time limits count from
  /// here, so that they include the time the request waited before it reached the worker. For
  /// a later stage of a route, when the previous stage's reply arrived.
  detail::time_point submitted() const noexcept { return state_->submitted; }
  /// The request's absolute deadline (steady clock); `time_point::max()` when it has none.
  detail::time_point deadline() const noexcept { return state_->deadline; }
  /// The cancel token: true once the host cancelled the request or its deadline passed.
  /// Long-running handlers poll it and stop early.
  bool cancelled() const noexcept { return !state_ || state_->cancel_requested(); }

  /// Answers with `value`.
  void reply(R value) {
    if (!state_)
      return;
    if (state_->try_claim(detail::request_state::outcome::completed)) {
      state_->reply.emplace(std::move(value));
      state_->publish();
    }
    report_done();
  }
  /// Answers with an error.
  void fail(error e) {
    if (!state_)
      return;
    state_->fail(std::move(e));
    report_done();
  }

private:
  void report_done() {
    auto sink = std::move(sink_);
    detail::report_done(*sink, detail::request_ref(std::move(state_)));
  }
  void abandon() noexcept {
    if (!state_)
      return;
    state_->fail(
        error{errc::worker_failed, std::uncaught_exceptions() > 0
                                       ? "the worker's handler exited with an exception"
                                       : "the worker dropped the request without replying"});
    report_done();
  }

  detail::ref_ptr<detail::reply_state<R>> state_;
  detail::ref_ptr<detail::completion_sink> sink_;
};

} // namespace loopbridge
