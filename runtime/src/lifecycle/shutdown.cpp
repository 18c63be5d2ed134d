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
  close_submission(deadline);
  // The loop stops the actors in reverse start order, each draining within the budget,
  // resolves what is left at the budget, waits for its instances to exit, then quits.
  bool loop_ended = wait_for_loop(deadline + stop_loop_grace);
  // Links to nodes and the gateway go once no instance needs them (a gateway answered what
  // its actors drained).
  if (loop_ended)
    stop_nodes();
  // Threads outside the scheduler: joined, or left behind and reported. (A loop that was late
  // gets until then too.)
  auto stuck = threads_.join_all(deadline + stop_thread_grace);
  if (!loop_ended)
    loop_ended = wait_for_loop(deadline + stop_thread_grace);
  close_subscribers();
  for (auto& line : release_system(loop_ended))
    stuck.push_back(std::move(line));
  write_report(t0, loop_ended, std::move(stuck));
  return report_;
}

void runtime_core::close_submission(time_point deadline) {
  // Every submit already inside the gate reaches the loop before `stop`. Open streams close
  // first, so their producers stop instead of filling buffers nobody reads.
  submit_gate_.close();
  reserve_report();
  close_streams();
  send_to_loop(stop_atom::value,
               static_cast<std::int64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                       .count()));
}

bool runtime_core::wait_for_loop(time_point until) {
  std::unique_lock<std::mutex> lock{loop_done_mutex_};
  return loop_done_cv_.wait_until(lock, until, [&] { return loop_done_; });
}

void runtime_core::close_subscribers() {
  // Subscribers have every event by now; their inboxes report the end.
  std::lock_guard<std::mutex> lock{subscribers_mutex_};
  for (auto& ch : subscribers_)
    ch->close();
  subscribers_.clear();
}

std::vector<std::string> runtime_core::release_system(bool loop_ended) {
  system_gate_.close(); // nothing may send into the actor system any more
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
    return {};
  }
  // Something never returns on the runtime's own threads (a scheduled handler that never ends
  // keeps its instance from exiting): leave the actor system behind rather than wait forever,
  // and name what runs there.
  std::vector<std::string> running;
  if (stalls_)
    for (auto& s : stalls_->running())
      running.push_back(describe(s));
  loop_thread_->abandon();
  (void)loop_thread_.release();
  (void)system_.release();
  (void)config_.release();
  return running;
}

void runtime_core::write_report(time_point started, bool loop_ended,
                                std::vector<std::string> stuck) {
  std::lock_guard<std::mutex> lock{report_mutex_};
  report_.stuck = std::move(stuck);
  report_.loop_stuck = !loop_ended;
  if (report_.loop_stuck)
    report_.stuck.push_back("the event loop did not finish within the shutdown budget (an "
                            "instance never exited); the actor system was left behind");
  report_.took = clock::now() - started;
  if (!report_.stuck.empty())
    LB_LOG(warning, "runtime", "shutdown left threads behind:\n" << report_.to_string());
  else
    LB_LOG(info, "runtime", "stopped in " << readable_duration(report_.took));
}

void runtime_core::reserve_report() {
  std::size_t actors = 0;
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    actors = records_.size();
  }
  std::lock_guard<std::mutex> guard{report_mutex_};
  report_.actors.reserve(report_.actors.size() + actors);
  report_owners_.reserve(report_owners_.size() + actors);
}

void runtime_core::record_stopped(const actor_record& rec, stopped_event e) {
  std::lock_guard<std::mutex> guard{report_mutex_};
  report_.actors.push_back(std::move(e));
  report_owners_.push_back(&rec);
}

} // namespace loopbridge::detail
