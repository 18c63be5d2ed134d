// The event loop's request path after a worker: done requests, pipeline stages, cancels,
// and deadlines.
#include "loop/event_loop.hpp"

#include <algorithm>

#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void event_loop::on_done(request_state* st) {
  auto& t = *slots_[st->target->index];
  st->await_published(); // a host's cancel may have claimed it a moment before
  ++t.reported;
  auto latency = now_ - st->links.accepted_at;
  t.record->counters.latency.record(latency);
  if (core_->wants(event_type::done)) {
    done_event e{t.record->spec.name, st->owner() & instance_mask, st->id, {}, latency};
    if (st->failed())
      e.error = st->error();
    core_->publish(e);
  }
  // A pipeline stage that succeeded continues (next stage) or ends the pipeline (its reply
  // becomes the parent's). The parent is published only after this stage was counted, so
  // whoever it wakes sees consistent metrics.
  request_ref next;
  ref_ptr<request_state> ended_pipeline;
  if (st->parent && !st->failed() && !st->parent->resolved()) {
    if (t.route_to >= 0)
      next = next_stage(t, st);
    else if (adopt_last_stage(t, st))
      ended_pipeline = st->parent;
  }
  settle(t, st); // drops the loop's reference
  if (auto limit = t.record->spec.stop_after;
      limit > 0 && t.reported >= limit && t.state == phase::serving)
    begin_stop(t, now_ + std::chrono::seconds(1)); // a one-shot actor's work is done
  if (ended_pipeline) {
    ended_pipeline->publish();
    ended_pipeline->mark_settled();
  }
  st->release(); // the reference the worker sent back
  if (next)
    on_submit(next.detach());
  pump_soon(t);
  publish_gauges(t);
  for (auto up : t.upstream) // room freed here may let a stage upstream continue
    pump_soon(*slots_[up]);
  check_drained(t);
}

bool event_loop::adopt_last_stage(actor_slot& t, request_state* st) {
  auto* parent = st->parent.get();
  if (!parent->try_claim(request_state::outcome::completed))
    return false;
  if (!parent->adopt_reply(*st))
    parent->set_error(error{errc::bad_request, "the pipeline's last stage (" + t.record->spec.name +
                                                   ") replies with another type"});
  return true; // claimed; published by the caller
}

request_ref event_loop::next_stage(actor_slot& t, request_state* st) {
  auto* parent = st->parent.get();
  auto& to = *slots_[t.route_to];
  auto fail_parent = [&](error e) {
    parent->fail(std::move(e));
    return request_ref{};
  };
  auto* entry = t.record->kind->find_request(st->request_type());
  auto* adapter = entry ? core_->kinds().find_adapter(entry->reply_tag, *to.record->kind) : nullptr;
  if (!adapter)
    return fail_parent(error{errc::bad_request, "no adapter from " + t.record->spec.name +
                                                    "'s reply to a request of " +
                                                    to.record->spec.name});
  auto converted = adapter->convert(*st);
  if (!converted) {
    auto& e = converted.error();
    return fail_parent(
        error{error_code{e.domain(), e.code()},
              "route " + t.record->spec.name + " -> " + to.record->spec.name + ": " + e.message()});
  }
  auto next = std::move(*converted);
  next->parent = st->parent;
  next->id = parent->id;
  next->context = parent->context;
  next->deadline = parent->deadline;
  next->submitted = now_;
  next->target = to.record.get();
  next->links.stage_number = st->links.stage_number + 1;
  if (st->links.reserved_next) { // the place reserved at dispatch moves to the new stage
    st->links.reserved_next = false;
    next->admitted = true;
  } else if (to.record->spec.mailbox.overflow == overflow_policy::block) {
    admit_unchecked(*to.record);
    next->admitted = true;
  }
  parent->links.stage = next.get();
  return next;
}

void event_loop::settle(actor_slot& t, request_state* st) {
  switch (st->links.where) {
    case loop_links::place::queued:
      t.queue.remove(st);
      break;
    case loop_links::place::in_flight:
      t.flying.remove(st);
      --t.in_flight;
      if (st->close_suspension()) {
        t.record->counters.suspended.fetch_sub(1, std::memory_order_relaxed);
        if (t.record->spec.max_suspended > 0)
          if (auto* inst = holder(t, *st)) // it may be waiting for one to end (at its bound)
            nudge(*inst);
      }
      break;
    case loop_links::place::awaiting_room: // not reached: never accepted, it is not settled
      t.awaiting_room.remove(st);
      break;
    case loop_links::place::none:
      return;
  }
  st->links.where = loop_links::place::none;
  deadlines_.remove(st);
  count_outcome(*t.record, *st);
  if (st->links.in_stop) { // its outcome is part of what the stop did (so `t.stop` exists)
    auto o = st->result();
    if (o == request_state::outcome::completed)
      ++t.stop->completed;
    else if (o == request_state::outcome::failed)
      ++t.stop->failed;
  }
  publish_gauges(t); // before anyone sees the request settled
  settle_untracked(st);
}

void event_loop::count_outcome(const actor_record& rec, const request_state& st) {
  auto& c = rec.counters;
  switch (st.result()) {
    case request_state::outcome::completed:
      actor_counters::add(c.completed);
      break;
    case request_state::outcome::cancelled:
      actor_counters::add(c.cancelled);
      break;
    case request_state::outcome::failed:
    case request_state::outcome::none: // not reached: every resolved request was claimed
      actor_counters::add(c.failed);
      break;
  }
}

void event_loop::give_back_place(const actor_record& rec) {
  auto index = rec.index;
  if (!batching_ || !slot_of(rec)) {
    release_places(rec, 1);
    if (auto* t = slot_of(rec); t && !t->awaiting_room.empty())
      admit_awaiting(*t);
    return;
  }
  if (pending_releases_.size() <= index)
    pending_releases_.resize(index + 1, 0);
  if (pending_releases_[index]++ == 0)
    releasing_.push_back(index);
}

void event_loop::flush_releases() {
  for (auto i : releasing_)
    if (pending_releases_[i] > 0) {
      if (slots_[i]) { // only live targets batch (see give_back_place)
        release_places(*slots_[i]->record, pending_releases_[i]);
        if (!slots_[i]->awaiting_room.empty())
          admit_awaiting(*slots_[i]);
      }
      pending_releases_[i] = 0;
    }
  releasing_.clear();
}

void event_loop::settle_untracked(request_state* st) {
  drop_pending(*st);
  if (st->admitted) {
    st->admitted = false;
    give_back_place(*st->target);
  }
  if (st->links.reserved_next) { // a stage that will not continue frees its reservation
    st->links.reserved_next = false;
    auto& t = *slots_[st->target->index]; // it was dispatched: its target is live
    if (t.route_to >= 0)
      give_back_place(*slots_[t.route_to]->record);
  }
  if (auto* parent = st->parent.get()) {
    if (!parent->resolved() && (parent->links.stage == st || parent->links.stage == nullptr))
      end_pipeline(*parent, *st);
    if (parent->links.stage == st || parent->links.stage == nullptr) {
      parent->links.stage = nullptr;
      if (parent->resolved())
        parent->mark_settled();
    }
  }
  st->mark_settled();
  st->release();
}

void event_loop::end_pipeline(request_state& parent, request_state& stage) {
  // The stage the pipeline is at is done and no next stage took over: the pipeline ends here,
  // with the stage's outcome (a stage that succeeded but was stopped before it went on ends
  // it as stopped: nothing is re-run).
  stage.await_published();
  auto label =
      "stage " + std::to_string(stage.links.stage_number) + " (" + stage.target->spec.name + ")";
  if (stage.failed()) {
    auto& e = stage.error();
    parent.fail(error{error_code{e.domain(), e.code()}, label + " failed: " + e.message()});
    return;
  }
  auto* t = slot_of(*stage.target);
  if (t && t->route_to < 0) { // the last stage: its reply is the pipeline's
    if (parent.try_claim(request_state::outcome::completed)) {
      if (!parent.adopt_reply(stage))
        parent.set_error(error{errc::bad_request, "the pipeline's last stage (" +
                                                      stage.target->spec.name +
                                                      ") replies with another type"});
      parent.publish();
    }
    return;
  }
  parent.fail(
      error{errc::stopped, label + " completed, but the pipeline stopped before its next stage"});
}

void event_loop::on_cancel(request_ref& ref) {
  auto* st = ref.get();
  if (st->links.where == loop_links::place::none && st->links.stage) {
    // A pipeline: the cancel reaches the stage that holds the request now.
    st = st->links.stage;
    st->fail(error{errc::cancelled, "cancelled by the host"});
    st->request_cancel();
  }
  if (st->links.where == loop_links::place::none)
    return;
  auto& t = *slots_[st->target->index];
  if (st->links.where == loop_links::place::awaiting_room) { // never accepted: just removed
    leave_awaiting(t, st);
    settle_untracked(st);
    return;
  }
  if (st->links.where == loop_links::place::queued) {
    settle(t, st); // removed without running
    publish_gauges(t);
    check_drained(t);
    return;
  }
  // In flight: still in the lane, it is withdrawn and settled now; taken, its worker hears of
  // it.
  if (withdraw(t, st))
    return;
  if (auto* inst = holder(t, *st))
    send(inst->handle, cancel_atom::value, request_ref::share(st));
}

bool event_loop::withdraw(actor_slot& t, request_state* st) {
  if (st->links.where != loop_links::place::in_flight || !t.lane->withdraw(st))
    return false;
  settle(t, st); // the lane keeps its reference until an instance or `reclaim` passes it
  pump_soon(t);  // its place in flight goes to the next queued request
  check_drained(t);
  return true;
}

// -- deadlines ------------------------------------------------------------------------------------

bool event_loop::still_starting(const ready_watch::entry& e) {
  auto* inst = incarnation(e.target, e.instance, e.token);
  return inst && !inst->ready && !inst->failure;
}

void event_loop::arm_timer() {
  auto next = deadlines_.next_expiry();
  if (!stop_deadlines_.empty())
    next = std::min(next, stop_deadlines_.begin()->first);
  if (stopping_)
    next = std::min(next, shutdown_deadline_);
  next = std::min(next, starting_.next_expiry([this](auto& e) { return still_starting(e); }));
  if (next >= armed_)
    return;
  armed_ = next;
  scheduled_send(caf::actor_cast<caf::actor>(this), next, tick_atom::value);
}

void event_loop::on_tick() {
  auto now = clock::now();
  now_ = now;
  if (now >= armed_)
    armed_ = time_point::max();
  std::vector<request_state*> expired;
  deadlines_.expire(now, [&](request_state* st) { expired.push_back(st); });
  for (auto* st : expired)
    expire(st);
  starting_.expire(
      now, [this](auto& e) { return still_starting(e); },
      [this, now](auto& e) {
        // The timeout counts from the start's beginning, not from the spawn: an instance
        // still waiting for a thread (a million spawned at once) is watched again, and one
        // that began meanwhile gets one more timeout; so it fails between one and two
        // timeouts after it began.
        auto& t = *slots_[e.target];
        bool began = t.lane->began_start(e.instance);
        if (e.extended && began) {
          on_ready_timeout(e.target, e.instance, e.token);
          return;
        }
        auto timeout = std::chrono::duration_cast<clock::duration>(t.record->spec.ready_timeout);
        starting_.watch(timeout, now, e.target, e.instance, e.token, began);
      });
  while (!stop_deadlines_.empty() && stop_deadlines_.begin()->first <= now) {
    auto index = stop_deadlines_.begin()->second;
    stop_deadlines_.erase(stop_deadlines_.begin());
    auto& t = slots_[index];
    if (t && t->state == phase::draining && t->stop->deadline <= now)
      finish_stop(*t, error{errc::stopped, t->record->spec.name + " stopped: its stop deadline "
                                                                  "passed before it drained"});
  }
  if (stopping_ && now >= shutdown_deadline_)
    advance_shutdown();
  arm_timer();
}

void event_loop::expire(request_state* st) {
  auto& t = *slots_[st->target->index];
  // The outcome first, then the token: a worker polling the token must not get to fail the
  // request with its own error before the timeout is recorded.
  if (st->links.where == loop_links::place::awaiting_room) { // never accepted
    leave_awaiting(t, st);
    st->fail(error{errc::timeout, "deadline passed while waiting for room in " +
                                      t.record->spec.name + " (capacity " +
                                      std::to_string(t.record->capacity) + ")"});
    settle_untracked(st);
    return;
  }
  if (auto down =
          t.record->spec.node.empty() ? std::nullopt : core_->node_failure(t.record->spec.node);
      down && !st->started())
    // It waited for its node to come back (in the queue, or in the lane of instances that
    // take nothing while the node is down): the node, not the actor, is why it never ran.
    st->fail(error{errc::node_unreachable, "deadline passed while " + t.record->spec.name +
                                               "'s node could not be reached: " + down->message()});
  else
    st->fail(error{errc::timeout, "deadline passed before " + t.record->spec.name + " replied"});
  st->request_cancel();
  if (st->links.where == loop_links::place::queued) {
    settle(t, st); // it never runs
    publish_gauges(t);
    check_drained(t);
  } else if (st->links.where == loop_links::place::in_flight && !withdraw(t, st)) {
    // Taken: keep it in flight until the worker reports it finished (its credit is still used).
    if (auto* inst = holder(t, *st))
      send(inst->handle, cancel_atom::value, request_ref::share(st));
  }
}

} // namespace loopbridge::detail
