// The event loop's stopping: one actor on request, every actor in reverse start order at
// shutdown, and retiring stopped actors that nothing can name.
#include "loop/event_loop.hpp"

#include <algorithm>

#include "registry/instance_label.hpp"
#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

// -- stopping -------------------------------------------------------------------------------------

void event_loop::on_stop_actor(request_ref& ref, record_ptr rec) {
  auto* found = target_of(*rec);
  if (!found && !rec->stopped.load(std::memory_order_acquire)) {
    on_spawn(rec); // not created yet (its spawn message comes first, but cost nothing to cover)
    found = target_of(*rec);
  }
  if (!found || found->state == phase::stopped) {
    auto* typed = static_cast<reply_state<stopped_event>*>(ref.get());
    if (typed->try_claim(request_state::outcome::completed)) {
      typed->reply.emplace(rec->last_stop);
      typed->publish();
    }
    typed->mark_settled();
    return;
  }
  auto& t = *found;
  t.stop_waiters.push_back(std::move(ref));
  begin_stop(t, t.stop_waiters.back()->deadline);
}

void event_loop::begin_stop(target& t, time_point deadline) {
  if (t.state == phase::stopped)
    return;
  if (!t.stop_began)
    mark_stop_began(t);
  t.state = phase::draining;
  t.stop_deadline = std::min(t.stop_deadline, deadline);
  LB_LOG(debug, "loop",
         t.record->spec.name << " draining (" << t.queue.size() << " queued, " << t.in_flight
                             << " in flight)");
  arm_timer();
  check_drained(t);
}

void event_loop::mark_stop_began(target& t) {
  // What the stop does is what happens to the requests still undecided now: a reply that
  // came just before (its report not yet here) belongs to the time before the stop.
  t.stop_began = true;
  auto mark = [](request_state* st) {
    st->links.in_stop = st->result() == request_state::outcome::none;
  };
  t.queue.for_each(mark);
  t.flying.for_each(mark);
}

void event_loop::check_drained(target& t) {
  if (t.state == phase::draining && t.queue.empty() && t.in_flight == 0)
    finish_stop(t, error{errc::stopped, t.record->spec.name + " stopped"});
}

void event_loop::finish_stop(target& t, error reason) {
  if (t.state == phase::stopped)
    return;
  if (!t.stop_began)
    mark_stop_began(t);
  t.state = phase::stopped;
  t.stop_reason = reason;
  fail_all(t, t.stop_reason);
  // What no instance took is resolved: drop the lane's references to it.
  while (auto* st = t.lane->reclaim())
    st->release();
  for (auto& inst : t.instances)
    if (inst.alive && inst.handle)
      send_exit(inst.handle, caf::exit_reason::user_shutdown);
  auto& c = t.record->counters;
  auto& stop = t.record->last_stop;
  stop = stopped_event{};
  stop.actor = t.record->spec.name;
  stop.reason = t.stop_reason;
  stop.completed = t.stop_completed;
  stop.failed = t.stop_failed;
  stop.cancelled = t.stop_cancelled;
  stop.abandoned = t.stop_abandoned;
  stop.total_received = c.received.load(std::memory_order_relaxed);
  stop.total_completed = c.completed.load(std::memory_order_relaxed);
  stop.total_failed = c.failed.load(std::memory_order_relaxed);
  stop.total_cancelled = c.cancelled.load(std::memory_order_relaxed);
  t.record->stopped.store(true, std::memory_order_release); // its name is free from now on
  LB_LOG(info, "loop", to_string(event{stop}));
  core_->record_stopped(*t.record, stop);
  if (core_->wants(event_type::stopped))
    core_->publish(stop);
  for (auto& w : t.stop_waiters) {
    auto* typed = static_cast<reply_state<stopped_event>*>(w.get());
    if (typed->try_claim(request_state::outcome::completed)) {
      typed->reply.emplace(stop);
      typed->publish();
    }
    typed->mark_settled();
  }
  t.stop_waiters.clear();
  consider_retiring(t);
  if (stopping_)
    advance_shutdown();
  maybe_quit();
}

void event_loop::on_stop_all(time_point deadline) {
  // Everything submitted before the stop is in the inboxes: take it first, so it is resolved.
  now_ = clock::now();
  while (auto* st = reports_->pop()) {
    if (st->links.where == loop_links::place::in_flight)
      on_finished(st);
    else
      st->release();
  }
  while (auto* st = submissions_->pop())
    on_submit(st);
  if (stopping_)
    return;
  stopping_ = true;
  shutdown_deadline_ = deadline;
  // One-shot actors run long-lived tasks (`offload_separate`, `deliver`) that end only when
  // told: raise their cancel tokens now, so they wind down — and answer with what they did —
  // while the others drain; past the budget, what is left is cancelled like everything else.
  for (auto& t : targets_)
    if (t && t->record->spec.stop_after > 0 && t->state == phase::running) {
      t->flying.for_each([](request_state* st) { st->request_cancel(); });
      t->queue.for_each([](request_state* st) { st->request_cancel(); });
      begin_stop(*t, deadline);
    }
  plan_shutdown_order();
  arm_timer();
  advance_shutdown();
}

void event_loop::plan_shutdown_order() {
  // Reverse start order, except that an actor routing to another stops first: a pipeline
  // drains from its first stage to its last, so what an upstream stage finishes while
  // draining still has somewhere to go. Routes form no cycles, so the pick always succeeds.
  // `shutdown_order_` is consumed from the back: the first to stop is pushed last.
  std::vector<std::uint32_t> sequence; // first to stop first
  std::vector<bool> placed(targets_.size(), false);
  // Start order is spawn order (indices are reused after retirement, so not index order).
  std::vector<std::uint32_t> started;
  for (std::uint32_t i = 0; i < targets_.size(); ++i)
    if (targets_[i])
      started.push_back(i);
  std::sort(started.begin(), started.end(), [this](std::uint32_t a, std::uint32_t b) {
    return targets_[a]->record->sequence < targets_[b]->record->sequence;
  });
  auto waits_for_upstream = [&](std::uint32_t i) {
    for (std::uint32_t j = 0; j < targets_.size(); ++j)
      if (targets_[j] && !placed[j] && targets_[j]->route_to == static_cast<std::int64_t>(i))
        return true;
    return false;
  };
  for (;;) {
    std::int64_t pick = -1;
    for (auto it = started.rbegin(); it != started.rend() && pick < 0; ++it)
      if (!placed[*it] && !waits_for_upstream(*it))
        pick = *it;
    if (pick < 0)
      break;
    placed[pick] = true;
    sequence.push_back(static_cast<std::uint32_t>(pick));
  }
  for (auto i : started) // only with a cycle, which routes forbid
    if (!placed[i])
      sequence.push_back(i);
  shutdown_order_.assign(sequence.rbegin(), sequence.rend());
}

void event_loop::advance_shutdown() {
  bool past_deadline = clock::now() >= shutdown_deadline_;
  while (!shutdown_order_.empty()) {
    auto& t = *targets_[shutdown_order_.back()];
    if (t.state == phase::stopped) {
      shutdown_order_.pop_back();
      continue;
    }
    if (past_deadline) {
      finish_stop(t, error{errc::stopped, "the runtime stopped (shutdown budget spent)"});
      continue;
    }
    if (t.state == phase::running)
      begin_stop(t, shutdown_deadline_);
    return; // wait for this one to drain
  }
  maybe_quit();
}

// -- retirement -----------------------------------------------------------------------------------

void event_loop::consider_retiring(const target& t) {
  to_retire_.push_back(t.record->index);
}

void event_loop::retire_noted() {
  if (to_retire_.empty())
    return;
  auto noted = std::move(to_retire_);
  to_retire_.clear();
  for (auto index : noted) {
    if (index >= targets_.size() || !targets_[index])
      continue; // noted twice
    auto& t = *targets_[index];
    bool nameless = t.replaced || t.record->spec.stop_after > 0;
    // During the runtime's shutdown everything stays: its report lists every actor.
    if (stopping_ || !nameless || t.state != phase::stopped || t.alive > 0 || !t.queue.empty() ||
        t.in_flight > 0 || t.route_to >= 0 || !t.upstream.empty() || !t.stop_waiters.empty())
      continue;
    auto rec = std::move(t.record);
    targets_[index].reset();
    if (index < pending_releases_.size())
      pending_releases_[index] = 0; // flushed already: nothing batches outside a drain
    core_->retire(*rec);            // the index may go to the next spawn from now on
    LB_LOG(debug, "loop", "retired " << rec->spec.name);
    retired_.push_back(std::move(rec));
  }
}

void event_loop::sweep_retired() {
  // A submitter holds the record (its handle) until it pushed its request, so a record seen
  // here with no owner but the loop can be in no push still to come, only in requests already
  // in the inbox: the next complete drain takes them, and this sweep at its end frees it.
  doomed_.clear();
  if (retired_.empty())
    return;
  auto sole = std::partition(retired_.begin(), retired_.end(),
                             [](const record_ptr& r) { return r.use_count() > 1; });
  if (sole == retired_.end())
    return;
  std::atomic_thread_fence(std::memory_order_acquire); // pairs with the owners' releases
  std::move(sole, retired_.end(), std::back_inserter(doomed_));
  retired_.erase(sole, retired_.end());
}

void event_loop::maybe_quit() {
  if (!stopping_ || !shutdown_order_.empty())
    return;
  for (auto& t : targets_)
    if (t && (t->state != phase::stopped || t->alive > 0))
      return;
  quit();
}

} // namespace loopbridge::detail
