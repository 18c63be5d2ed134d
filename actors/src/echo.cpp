#include "loopbridge/actors/echo.hpp"

#include <stdexcept>
#include <thread>

namespace loopbridge::actors {

using namespace std::chrono_literals;

std::vector<param_decl> echo::params() {
  using d = param_decl;
  return {
      d::duration("delay", 0ns, "time before each reply (a timer)").range(0, 3600),
      d::duration("block", 0ns, "time each request blocks the instance's own thread").at_least(0),
      d::boolean("dedicated", false, "run on a dedicated thread even without block"),
      d::boolean("poll_cancel", true, "while blocking, stop early when the request is cancelled"),
      d::integer("fail_every", 0, "every Nth request fails with echo.failed (0 = never)")
          .at_least(0),
      d::integer("crash_every", 0, "every Nth request the instance dies (0 = never)").at_least(0),
      d::duration("start_delay", 0ns, "time before the instance announces ready").range(0, 3600),
      d::string("fail_start", "", "if set, the start fails with this message (after start_delay)"),
  };
}

execution echo::execution(const loopbridge::params& p) {
  return p.duration("block") > 0ns || p.boolean("dedicated") ? execution::dedicated_thread
                                                             : execution::scheduled;
}

echo_worker::echo_worker(worker_context& ctx)
    : ctx_(ctx),
      delay_(ctx.params().duration("delay")),
      block_(ctx.params().duration("block")),
      fail_every_(ctx.params().integer("fail_every")),
      crash_every_(ctx.params().integer("crash_every")),
      dedicated_(echo::execution(ctx.params()) == execution::dedicated_thread),
      poll_cancel_(ctx.params().boolean("poll_cancel")) {
  stats_.instance = ctx.instance();
  auto start_delay = ctx.params().duration("start_delay");
  auto fail_start = ctx.params().string("fail_start");
  if (start_delay == 0ns) {
    if (!fail_start.empty())
      throw std::runtime_error(fail_start);
    return; // ready at once
  }
  ctx.defer_ready();
  ctx.after(start_delay, [&ctx, fail_start] {
    if (fail_start.empty())
      ctx.ready(value{});
    else
      ctx.start_failed(error{errc::start_failed, fail_start});
  });
}

bool echo_worker::block_for(std::chrono::nanoseconds d, const responder<echo_reply>& r) {
  if (!poll_cancel_) {
    std::this_thread::sleep_for(d);
    return true;
  }
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (r.cancelled())
      return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(1ms, until - std::chrono::steady_clock::now()));
  }
  return !r.cancelled();
}

void echo_worker::handle(echo_request& req, responder<echo_reply>& r) {
  auto n = ++stats_.received;
  auto label = ctx_.actor_name() + "/" + std::to_string(ctx_.instance());
  if (crash_every_ > 0 && n % static_cast<std::uint64_t>(crash_every_) == 0) {
    error reason{errc::worker_failed,
                 label + " crashed on purpose (crash_every " + std::to_string(crash_every_) + ")"};
    r.fail(reason);
    ctx_.crash(reason);
    return;
  }
  if (fail_every_ > 0 && n % static_cast<std::uint64_t>(fail_every_) == 0) {
    ++stats_.failed;
    r.fail(error{echo_errc::failed,
                 "failed on purpose (fail_every " + std::to_string(fail_every_) + ")"});
    return;
  }
  auto block = block_ + req.block;
  if (block > 0ns) {
    if (!dedicated_) {
      r.fail(error{errc::bad_request, "block needs an echo instance with a dedicated thread "
                                      "(set its block or dedicated parameter)"});
      return;
    }
    if (!block_for(block, r)) {
      ++stats_.saw_cancel;
      r.fail(error{errc::cancelled, "cancelled while blocking"});
      return;
    }
  }
  echo_reply reply;
  reply.payload = std::move(req.payload);
  reply.instance = ctx_.instance();
  reply.request_id = r.id();
  reply.received = n;
  for (auto& [k, v] : r.request_context().all())
    reply.context.emplace(k, v);
  auto delay = delay_ + req.delay;
  if (delay > 0ns) {
    if (dedicated_) {
      if (!block_for(delay, r)) {
        ++stats_.saw_cancel;
        r.fail(error{errc::cancelled, "cancelled while delaying"});
        return;
      }
    } else {
      auto id = r.id();
      delayed_.emplace(id, std::move(r));
      ctx_.after(delay, [this, id, fail = req.fail, reply = std::move(reply)]() mutable {
        auto it = delayed_.find(id);
        if (it == delayed_.end())
          return; // cancelled meanwhile
        answer(it->second, std::move(reply), fail);
        delayed_.erase(it);
      });
      return;
    }
  }
  answer(r, std::move(reply), req.fail);
}

void echo_worker::answer(responder<echo_reply>& r, echo_reply reply, bool fail) {
  if (fail) {
    ++stats_.failed;
    r.fail(error{echo_errc::failed, "failure requested"});
    return;
  }
  ++stats_.replied;
  r.reply(std::move(reply));
}

void echo_worker::handle(echo_stats_request&, responder<echo_stats>& r) {
  r.reply(stats_);
}

void echo_worker::on_cancel(std::uint64_t request_id) {
  auto it = delayed_.find(request_id);
  if (it == delayed_.end())
    return;
  ++stats_.saw_cancel;
  it->second.fail(error{errc::cancelled, "cancelled while delayed"});
  delayed_.erase(it);
}

} // namespace loopbridge::actors
