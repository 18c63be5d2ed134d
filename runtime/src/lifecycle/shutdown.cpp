// The runtime's graceful stop: closing submission, stopping every actor through the loop,
// joining threads and writing the shutdown report.
#include "runtime_core.hpp"

#include "tuning.hpp"

#include "loopbridge/log.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

const shutdown_report& runtime_core::stop() {
  std::lock_guard<std::mutex> guard{stop_mutex_};
  if (stopped_ || !system_) {
    stopped_ = true;
    return report_;
  }
  stopped_ = true;
  auto t0 = clock::now();
  auto deadline = t0 + options_.shutdown_budget;
  // 1. No new submits; every submit already inside reaches the loop before `stop`. Open
  //    streams close first, so their producers stop instead of filling buffers nobody reads.
  submit_gate_.close();
  close_streams();
  send_to_loop(stop_atom::value,
               static_cast<std::int64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                       .count()));
  // 2. The loop stops the actors in reverse start order, each draining within the budget,
  //    resolves what is left at the budget, waits for its instances to exit, then quits.
  bool loop_ended;
  {
    std::unique_lock<std::mutex> lock{loop_done_mutex_};
    loop_ended =
        loop_done_cv_.wait_until(lock, deadline + stop_loop_grace, [&] { return loop_done_; });
  }
  // Links to nodes and the gateway go once no instance needs them (a gateway answered what
  // its actors drained).
  if (loop_ended)
    stop_nodes();
  // 3. Threads outside the scheduler: joined, or left behind and reported. (A loop that
  //    was late gets until then too.)
  auto stuck = threads_.join_all(deadline + stop_thread_grace);
  if (!loop_ended) {
    std::unique_lock<std::mutex> lock{loop_done_mutex_};
    loop_ended =
        loop_done_cv_.wait_until(lock, deadline + stop_thread_grace, [&] { return loop_done_; });
  }
  // 4. Subscribers have every event by now; their inboxes report the end.
  {
    std::lock_guard<std::mutex> lock{subscribers_mutex_};
    for (auto& ch : subscribers_)
      ch->close();
    subscribers_.clear();
  }
  // 5. The actor system goes; nothing may send into it any more.
  system_gate_.close();
  loop_ = nullptr;
  if (loop_ended) {
    loop_thread_->join();
    // The loop drains no more: what reaches its inboxes from now on (the end of a thread left
    // behind) is released at once instead of keeping its closure, and the handles in it, alive.
    loop_inbox_->close();
    reports_inbox_->close();
    system_.reset(); // joins CAF's clock thread, the last that may notify the loop thread
    config_.reset();
    loop_thread_.reset();
    if (stalls_)
      stalls_->stop();
  } else {
    // Something never returns on the runtime's own threads (a scheduled handler that never
    // ends keeps its instance from exiting): leave the actor system behind rather than wait
    // forever, and name what runs there.
    if (stalls_)
      for (auto& s : stalls_->running())
        stuck.push_back(describe(s));
    loop_thread_->abandon();
    (void)loop_thread_.release();
    (void)system_.release();
    (void)config_.release();
  }
  std::lock_guard<std::mutex> lock{report_mutex_};
  report_.stuck = std::move(stuck);
  report_.loop_stuck = !loop_ended;
  if (report_.loop_stuck)
    report_.stuck.push_back("the event loop did not finish within the shutdown budget (an "
                            "instance never exited); the actor system was left behind");
  report_.took = clock::now() - t0;
  if (!report_.stuck.empty())
    LB_LOG(warning, "runtime", "shutdown left threads behind:\n" << report_.to_string());
  else
    LB_LOG(info, "runtime", "stopped in " << readable_duration(report_.took));
  return report_;
}

void runtime_core::record_stopped(const actor_record& rec, const stopped_event& e) {
  std::lock_guard<std::mutex> guard{report_mutex_};
  report_.actors.push_back(e);
  report_owners_.push_back(&rec);
}

} // namespace loopbridge::detail
