#include "loopbridge/actors/echo.hpp"

#include <thread>

namespace loopbridge::actors {

using namespace std::chrono_literals;

std::vector<param_decl> echo::params() {
  std::vector<param_decl> p;
  p.push_back({"delay",
               param_type::duration,
               value{0ns},
               "time before each reply (a timer)",
               0.0,
               3600.0,
               {}});
  p.push_back({"block",
               param_type::duration,
               value{0ns},
               "time each request blocks the instance's own thread",
               0.0,
               1e9,
               {}});
  p.push_back({"dedicated",
               param_type::boolean,
               value{false},
               "run on a dedicated thread even without block",
               {},
               {},
               {}});
  p.push_back({"poll_cancel",
               param_type::boolean,
               value{true},
               "while blocking, stop early when the request is cancelled",
               {},
               {},
               {}});
  p.push_back({"fail_every",
               param_type::integer,
               value{0},
               "every Nth request fails with echo.failed (0 = never)",
               0.0,
               {},
               {}});
  p.push_back({"crash_every",
               param_type::integer,
               value{0},
               "every Nth request the instance dies (0 = never)",
               0.0,
               {},
               {}});
  return p;
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
      poll_cancel_(ctx.params().boolean("poll_cancel", true)) {
  stats_.instance = ctx.instance();
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
