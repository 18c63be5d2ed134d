// The event loop's supervision: instances that exit or are killed, restarts, and failing what
// an actor can no longer serve.
#include "loop/event_loop.hpp"

#include <algorithm>

#include "events/publish_batch.hpp"
#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

// -- failures -------------------------------------------------------------------------------------

void event_loop::on_instance_down(std::uint32_t ti, std::uint32_t ii, std::uint32_t token,
                                  const caf::error& exit_reason) {
  auto* found = incarnation(ti, ii, token);
  if (!found)
    return; // an earlier incarnation, or its actor was retired
  auto& t = *slots_[ti];
  if (t.state == phase::stopped) {
    // Its actor's stop told it to exit, and resolved every request it held: nothing to requeue,
    // restart or report.
    forget_instance(t, ii);
    maybe_quit();
    return;
  }
  auto& inst = *found;
  error reason =
      !inst.failure
          ? error{errc::worker_failed,
                  instance_label(*t.record, ii) + " failed: " + describe_exit_reason(exit_reason)}
          : *inst.failure;
  if (t.state == phase::serving && !stopping_)
    LB_LOG(warning, "loop", instance_label(*t.record, ii) << " stopped: " << reason.message());
  instance_lost(t, ii, std::move(reason));
}

void event_loop::instance_lost(actor_slot& t, std::uint32_t instance, error reason) {
  forget_instance(t, instance);
  requeue_requests_of(t, instance, reason);
  if (restart_or_give_up(t, instance, reason))
    return;
  if (t.alive == 0 && t.state != phase::stopped) {
    // Nothing left to serve the queue. Before any instance was ready this is a failed start:
    // the queued requests fail with the start error itself.
    if (!t.ever_ready && reason.is(errc::start_failed))
      finish_stop(t, reason);
    else
      finish_stop(t, error{errc::stopped, t.record->spec.name + " stopped: no instance left (" +
                                              reason.message() + ")"});
  } else {
    pump(t);
    publish_gauges(t);
    check_drained(t);
  }
  maybe_quit();
}

void event_loop::forget_instance(actor_slot& t, std::uint32_t instance) {
  auto& inst = t.instances[instance];
  t.lane->leave(instance);
  if (inst.ready)
    --t.ready;
  inst.alive = false;
  inst.ready = false;
  inst.handle = nullptr;
  update_direct(t, true); // closed, its notes taken: what it held is all in `flying`
  --t.alive;
  --instances_alive_;
  if (t.state == phase::stopped)
    consider_retiring(t);
}

void event_loop::requeue_requests_of(actor_slot& t, std::uint32_t instance, const error& reason) {
  auto& inst = t.instances[instance];
  // Requests it took and never started run elsewhere (front of the queue, in their order);
  // the ones it was running fail. What it never took stays in the lane for the others.
  std::vector<request_state*> requeue;
  for (auto* st = t.flying.front(); st;) {
    auto* next = st->links.next;
    if (st->owner() == inst.token) {
      if (t.state == phase::serving && !st->resolved() && st->revoke(inst.token)) {
        // Its own reference goes with the instance (a late report of it is dropped).
        t.flying.remove(st);
        --t.in_flight;
        requeue.push_back(st);
      } else {
        st->fail(t.state == phase::serving ? reason : error{errc::stopped, "the actor stopped"});
        settle(t, st);
      }
    }
    st = next;
  }
  if (t.alive == 0) {
    // Nobody takes from the lane any more: what waits there goes back to the queue too, behind
    // the requests taken earlier, for a restarted instance (or the stop) to resolve.
    while (auto* st = t.lane->reclaim()) {
      t.flying.remove(st);
      --t.in_flight;
      st->release(); // the lane's reference
      requeue.push_back(st);
    }
  } else if (auto other = t.lane->wake_one(); other != request_lane::none) {
    wake(t, other); // it may have been the one woken for work still in the lane
  }
  for (auto it = requeue.rbegin(); it != requeue.rend(); ++it) {
    (*it)->links.where = loop_links::place::queued;
    t.queue.push_front(*it);
  }
}

bool event_loop::restart_or_give_up(actor_slot& t, std::uint32_t instance, const error& reason) {
  // Supervision: restart the instance while the budget (max_restarts within period) lasts.
  auto& policy = t.record->spec.restart;
  if (t.state == phase::serving && !stopping_ && policy.policy == restart_policy::on_failure) {
    auto now = clock::now();
    auto recent = std::find_if(t.restarts.begin(), t.restarts.end(),
                               [&](time_point at) { return now - at <= policy.period; });
    t.restarts.erase(t.restarts.begin(), recent);
    if (t.restarts.size() < policy.max_restarts) {
      t.restarts.push_back(now);
      ++t.restart_count;
      LB_LOG(info, "loop",
             "restarting " << instance_label(*t.record, instance) << " (restart " << t.restart_count
                           << "): " << reason.message());
      start_instance(t, instance, caf::actor_cast<caf::actor>(this), clock::now());
      if (core_->wants(event_type::restarted)) {
        core_->publish(restarted_event{t.record->spec.name, instance, t.restart_count, reason});
        publish_batch::flush();
      }
      // Counted once the event is in the inbox: whoever sees the restart in metrics finds its
      // event there too.
      actor_counters::add(t.record->counters.restarts);
      publish_gauges(t);
      return true;
    }
    finish_stop(t, error{errc::stopped, t.record->spec.name + " stopped: restart budget spent (" +
                                            std::to_string(policy.max_restarts) +
                                            " restarts within " + format_duration(policy.period) +
                                            "); last failure: " + reason.message()});
    maybe_quit();
    return true;
  }
  return false;
}

void event_loop::fail_all(actor_slot& t, const error& reason) {
  while (auto* st = t.queue.front()) {
    if (st->fail(reason))
      ++t.stop->cancelled;
    settle(t, st);
  }
  while (auto* st = t.flying.front()) {
    if (st->fail(reason)) {
      ++t.stop->cancelled;
      if (st->started())
        ++t.stop->abandoned; // its instance still runs it
    }
    st->request_cancel(); // an instance taking it now skips it
    settle(t, st);
  }
  publish_gauges(t);
}

void event_loop::on_kill(const record_ptr& rec, std::uint32_t i) {
  auto* found = slot_of(*rec);
  if (!found && !rec->stopped.load(std::memory_order_acquire)) {
    on_spawn(rec); // committed, not created yet
    found = slot_of(*rec);
  }
  if (!found || i >= found->instances.size())
    return; // retired: nothing left to kill
  auto& t = *found;
  auto& inst = t.instances[i];
  if (!inst.alive)
    return;
  inst.failure = std::make_unique<error>(errc::worker_failed, instance_label(*t.record, i) +
                                                                  " was killed (kill_instance)");
  if (inst.handle)
    send_exit(inst.handle, caf::exit_reason::kill);
  // else its batch is still being made: it is dropped unlaunched when the batch comes back
}

} // namespace loopbridge::detail
