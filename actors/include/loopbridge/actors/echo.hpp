#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/value.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// Error kinds of the echo actor (`echo.*`).
namespace echo_errc {
/// A failure the request or the `fail_every` parameter asked for.
inline constexpr error_code failed{"echo", "failed"};
} // namespace echo_errc

/// Echo's reply: the request's payload, plus what the instance observed.
struct echo_reply {
  value payload;
  /// Which instance answered (0 .. count-1).
  std::uint32_t instance = 0;
  /// The request's id, as the worker saw it.
  std::uint64_t request_id = 0;
  /// The request's context fields, as the worker saw them.
  value::map context;
  /// Requests this instance had received, this one included.
  std::uint64_t received = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, echo_reply& x) {
    return f(caf::meta::type_name("echo_reply"), field("payload"), x.payload, field("instance"),
             x.instance, field("request_id"), x.request_id, field("context"), x.context,
             field("received"), x.received);
  }
};

/// Asks an echo actor to reply with `payload`.
struct echo_request {
  using reply_type = echo_reply;
  value payload;
  /// Extra delay before replying, on top of the actor's `delay` parameter (a timer: the
  /// scheduler thread is not blocked).
  std::chrono::nanoseconds delay{0};
  /// Extra time to block the instance's thread, on top of its `block` parameter. Only on
  /// instances with a dedicated thread; otherwise the request fails with `loop.bad_request`.
  std::chrono::nanoseconds block{0};
  /// Fail this request with `echo.failed` (after its delay and block, like a reply would come).
  bool fail = false;

  template <class Inspector>
  friend auto inspect(Inspector& f, echo_request& x) {
    return f(caf::meta::type_name("echo_request"), field("payload"), x.payload, field("delay"),
             x.delay, field("block"), x.block, field("fail"), x.fail);
  }
};

/// What one echo instance has seen so far.
struct echo_stats {
  std::uint32_t instance = 0;
  /// Requests whose handler ran.
  std::uint64_t received = 0;
  /// Requests answered with a reply.
  std::uint64_t replied = 0;
  /// Requests failed on purpose.
  std::uint64_t failed = 0;
  /// Requests whose cancel token the instance saw while holding them.
  std::uint64_t saw_cancel = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, echo_stats& x) {
    return f(caf::meta::type_name("echo_stats"), field("instance"), x.instance, field("received"),
             x.received, field("replied"), x.replied, field("failed"), x.failed,
             field("saw_cancel"), x.saw_cancel);
  }
};

/// Asks one echo instance for its counters.
struct echo_stats_request {
  using reply_type = echo_stats;

  template <class Inspector>
  friend auto inspect(Inspector& f, echo_stats_request&) {
    return f(caf::meta::type_name("echo_stats_request"));
  }
};

class echo_worker;

/// The `echo` kind: replies with its request. Serves tests, benchmarks and scenarios.
///
/// Params: `delay` (timer before each reply), `block` (sleeps the instance's own thread per
/// request; such an instance runs on a dedicated thread), `dedicated` (run on a dedicated
/// thread even without `block`), `poll_cancel` (while blocking, stop early when the request is
/// cancelled), `fail_every` N (every Nth request fails with `echo.failed`), `crash_every` N
/// (every Nth request the instance dies: that request fails with `loop.worker_failed`),
/// `start_delay` (announce ready only after this long) and `fail_start` (the start fails with
/// this message, after `start_delay`).
struct echo {
  static constexpr const char* name = "echo";
  using requests = request_list<echo_request, echo_stats_request>;
  using worker = echo_worker;
  static std::vector<param_decl> params();
  static loopbridge::execution execution(const loopbridge::params& p);
};

/// The echo kind's worker. See `echo`.
class echo_worker final : public loopbridge::worker {
public:
  explicit echo_worker(worker_context& ctx);
  void handle(echo_request& req, responder<echo_reply>& r);
  void handle(echo_stats_request& req, responder<echo_stats>& r);
  void on_cancel(std::uint64_t request_id) override;

private:
  /// Replies, or fails with `echo.failed` when the request asked for it.
  void answer(responder<echo_reply>& r, echo_reply reply, bool fail);
  /// Sleeps up to `d`; returns false if the request was cancelled meanwhile (when polling).
  bool block_for(std::chrono::nanoseconds d, const responder<echo_reply>& r);

  worker_context& ctx_;
  std::chrono::nanoseconds delay_;
  std::chrono::nanoseconds block_;
  std::int64_t fail_every_;
  std::int64_t crash_every_;
  bool dedicated_;
  bool poll_cancel_;
  echo_stats stats_;
  std::unordered_map<std::uint64_t, responder<echo_reply>> delayed_;
};

} // namespace loopbridge::actors
