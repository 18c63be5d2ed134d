// The event loop's stopping: one actor on request, every actor in reverse start order at
// shutdown, and retiring stopped actors that nothing can name.
#include "loop/event_loop.hpp"

#include <algorithm>

#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "scheduler/scheduler.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

// -- stopping -------------------------------------------------------------------------------------

void event_loop::on_stop_actor(request_ref& ref, record_ptr rec) {
  auto* found = slot_of(*rec);
  if (!found && !rec->stopped.load(std::memory_order_acquire)) {
    on_spawn(rec); // committed, not created yet
    found = slot_of(*rec);
  }
  if (!found || found->state == phase::stopped) {
    auto* typed = static_cast<reply_state<stopped_event>*>(ref.get());
    if (typed->try_claim(request_state::outcome::completed)) {
      typed->reply.emplace(rec->stop_report());
      typed->publish();
    }
    typed->mark_settled();
    return;
  }
  auto& t = *found;
  auto& waiters = stop_of(t).waiters;
  waiters.push_back(std::move(ref));
  begin_stop(t, waiters.back()->deadline);
}

void event_loop::begin_stop(actor_slot& t, time_point deadline) {
  if (t.state == phase::stopped)
    return;
  auto& stop = mark_stop_began(t);
  t.state = phase::draining;
  update_prompt(t);
  refuse_awaiting(t, error{errc::stopped, t.record->spec.name + " is stopping"});
  if (deadline < stop.deadline) {
    stop_deadlines_.erase({stop.deadline, t.record->index});
    stop.deadline = deadline;
    stop_deadlines_.emplace(deadline, t.record->index);
  }
  LB_LOG(debug, "loop",
         t.record->spec.name << " draining (" << t.queue.size() << " queued, " << t.in_flight
                             << " in flight)");
  arm_timer();
  check_drained(t);
}

event_loop::stop_progress& event_loop::stop_of(actor_slot& t) {
  if (!t.stop)
    t.stop = std::make_unique<stop_progress>();
  return *t.stop;
}

event_loop::stop_progress& event_loop::mark_stop_began(actor_slot& t) {
  auto& stop = stop_of(t);
  if (stop.began)
    return stop;
  // What the stop does is what happens to the requests still undecided now: a reply that
  // came just before (its report not yet here) belongs to the time before the stop.
  stop.began = true;
  auto mark = [](request_state* st) {
    st->links.in_stop = st->result() == request_state::outcome::none;
  };
  t.queue.for_each(mark);
  t.flying.for_each(mark);
  return stop;
}

void event_loop::check_drained(actor_slot& t) {
  if (t.state == phase::draining && t.queue.empty() && t.in_flight == 0)
    finish_stop(t, error{errc::stopped, t.record->spec.name + " stopped"});
}

void event_loop::finish_stop(actor_slot& t, error reason) {
  if (t.state == phase::stopped)
    return;
  auto& progress = mark_stop_began(t);
  t.state = phase::stopped;
  update_prompt(t);
  --targets_unstopped_;
  stop_deadlines_.erase({progress.deadline, t.record->index});
  progress.reason = std::move(reason);
  refuse_awaiting(t, progress.reason);
  if (!stopping_) // nothing is retired during the runtime's shutdown (see `retire_noted`)
    stopped_names_[t.record->spec.name] = t.record->index;
  fail_all(t, progress.reason);
  // What no instance took is resolved: drop the lane's references to it.
  while (auto* st = t.lane->reclaim())
    st->release();
  t.lane->stopped.store(true, std::memory_order_release); // their exits come in bulk now
  exit_instances(*t.record, 0);
  auto& c = t.record->counters;
  stopped_event stop;
  stop.actor = t.record->spec.name;
  stop.reason = progress.reason;
  stop.completed = progress.completed;
  stop.failed = progress.failed;
  stop.cancelled = progress.cancelled;
  stop.abandoned = progress.abandoned;
  stop.total_received = c.received.load(std::memory_order_relaxed);
  stop.total_completed = c.completed.load(std::memory_order_relaxed);
  stop.total_failed = c.failed.load(std::memory_order_relaxed);
  stop.total_cancelled = c.cancelled.load(std::memory_order_relaxed);
  if (!t.record->last_stop) // an actor stops once; readers may hold the first report
    t.record->last_stop = make_pooled<const stopped_event>(stop);
  t.record->stopped.store(true, std::memory_order_release); // its name is free from now on
  LB_LOG(info, "loop", to_string(event{stop}));
  if (core_->wants(event_type::stopped))
    core_->publish(stop);
  for (auto& w : progress.waiters) {
    auto* typed = static_cast<reply_state<stopped_event>*>(w.get());
    if (typed->try_claim(request_state::outcome::completed)) {
      typed->reply.emplace(stop);
      typed->publish();
    }
    typed->mark_settled();
  }
  progress.waiters.clear();
  // Into the shutdown report last, as the last use of `stop`: moved, not copied.
  core_->record_stopped(*t.record, std::move(stop));
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
      on_done(st);
    else
      st->release();
  }
  while (auto* st = submissions_->pop())
    on_submit(st);
  if (stopping_)
    return;
  stopping_ = true;
  shutdown_deadline_ = deadline;
  for (auto& t : slots_)
    if (t)
      update_prompt(*t); // every report counts from now on
  // Actors committed and not created yet never start: each stops at once.
  take_spawns(SIZE_MAX);
  // One-shot actors run long-lived tasks (`offload_separate`, `deliver`) that end only when
  // told: raise their cancel tokens now, so they wind down — and answer with what they did —
  // while the others drain; past the budget, what is left is cancelled like everything else.
  for (auto& t : slots_)
    if (t && t->record->spec.stop_after > 0 && t->state == phase::serving) {
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
  // draining still has somewhere to go. Among the actors whose upstream stages are all placed,
  // the one started last goes next. Start order is spawn order (`sequence`; indices are reused
  // after retirement, so not index order).
  //
  // Actors on no route are always free to go: they are sorted once, and only the actors on
  // routes go through a heap (O(n log n) over contiguous keys, no pointer chasing: a million
  // actors take well under the slow-handler limit). `shutdown_order_` is consumed from the
  // back: the first to stop is pushed last.
  using keyed = std::pair<std::uint64_t, std::uint32_t>; // (sequence, index)
  auto routes_to_live = [this](const actor_slot& t) {
    return t.route_to >= 0 && static_cast<std::size_t>(t.route_to) < slots_.size() &&
           slots_[t.route_to];
  };
  std::vector<std::uint32_t> upstream_left(slots_.size(), 0);
  for (auto& t : slots_)
    if (t && routes_to_live(*t))
      ++upstream_left[t->route_to];
  std::vector<keyed> unrouted; // sorted: started last at the back
  std::vector<keyed> free;     // routed and free to go: a max-heap by sequence
  std::size_t present = 0;
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    auto& t = slots_[i];
    if (!t)
      continue;
    ++present;
    if (upstream_left[i] > 0)
      continue; // free once its last upstream stage is placed
    (routes_to_live(*t) ? free : unrouted).push_back({t->record->sequence, i});
  }
  std::sort(unrouted.begin(), unrouted.end());
  std::make_heap(free.begin(), free.end());
  std::vector<std::uint32_t> sequence; // first to stop first
  sequence.reserve(present);
  while (!unrouted.empty() || !free.empty()) {
    if (free.empty() || (!unrouted.empty() && unrouted.back() > free.front())) {
      sequence.push_back(unrouted.back().second);
      unrouted.pop_back();
      continue;
    }
    std::pop_heap(free.begin(), free.end());
    auto pick = free.back().second;
    free.pop_back();
    sequence.push_back(pick);
    auto to = slots_[pick]->route_to;
    if (routes_to_live(*slots_[pick]) && --upstream_left[to] == 0) {
      free.push_back({slots_[to]->record->sequence, static_cast<std::uint32_t>(to)});
      std::push_heap(free.begin(), free.end());
    }
  }
  if (sequence.size() < present) { // only with a cycle, which routes forbid
    std::vector<bool> placed(slots_.size(), false);
    for (auto i : sequence)
      placed[i] = true;
    std::vector<keyed> rest;
    for (std::uint32_t i = 0; i < slots_.size(); ++i)
      if (slots_[i] && !placed[i])
        rest.push_back({slots_[i]->record->sequence, i});
    std::sort(rest.begin(), rest.end());
    for (auto& k : rest)
      sequence.push_back(k.second);
  }
  shutdown_order_.assign(sequence.rbegin(), sequence.rend());
}

void event_loop::advance_shutdown() {
  // An actor that stops at once (nothing to drain) calls back in here from `finish_stop`:
  // the loop below goes on with the next one instead, so the stack stays flat at any count.
  if (advancing_)
    return;
  advancing_ = true;
  scheduler::burst burst; // the instances told to exit wake the scheduler's threads in batches
  bool past_deadline = clock::now() >= shutdown_deadline_;
  std::size_t stopped_now = 0;
  while (!shutdown_order_.empty()) {
    auto& t = *slots_[shutdown_order_.back()];
    if (t.state == phase::stopped) {
      shutdown_order_.pop_back();
      continue;
    }
    if (++stopped_now > loop_batch) { // a batch per message: the loop stays responsive
      advancing_ = false;
      send(caf::actor_cast<caf::actor>(this), shutdown_more_atom::value);
      return;
    }
    if (past_deadline) {
      finish_stop(t, error{errc::stopped, "the runtime stopped (shutdown budget spent)"});
      continue;
    }
    if (t.state == phase::serving)
      begin_stop(t, shutdown_deadline_);
    if (t.state != phase::stopped) {
      advancing_ = false;
      return; // wait for this one to drain
    }
  }
  advancing_ = false;
  maybe_quit();
}

// -- retirement -----------------------------------------------------------------------------------

void event_loop::consider_retiring(const actor_slot& t) {
  to_retire_.push_back(t.record->index);
}

void event_loop::retire_noted() {
  if (to_retire_.empty())
    return;
  auto noted = std::move(to_retire_);
  to_retire_.clear();
  for (auto index : noted) {
    if (index >= slots_.size() || !slots_[index])
      continue; // noted twice
    auto& t = *slots_[index];
    bool nameless = t.replaced || t.record->spec.stop_after > 0;
    // During the runtime's shutdown everything stays: its report lists every actor.
    if (stopping_ || !nameless || t.state != phase::stopped || t.alive > 0 || !t.queue.empty() ||
        t.in_flight > 0 || t.route_to >= 0 || !t.upstream.empty() ||
        (t.stop && !t.stop->waiters.empty()))
      continue;
    if (auto it = stopped_names_.find(t.record->spec.name);
        it != stopped_names_.end() && it->second == index)
      stopped_names_.erase(it);
    auto rec = std::move(t.record);
    slots_[index].reset();
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
  if (ending_ || targets_unstopped_ != 0 || instances_alive_ != 0)
    return;
  // Not here: whoever called may still hold a slot.
  ending_ = true;
  send(caf::actor_cast<caf::actor>(this), end_atom::value);
}

void event_loop::free_slots() {
  for (std::size_t n = 0; n < loop_batch && !slots_.empty(); ++n)
    slots_.pop_back();
  if (!slots_.empty()) {
    send(caf::actor_cast<caf::actor>(this), end_atom::value); // the next batch
    return;
  }
  quit();
}

void event_loop::take_exits() {
  // Their actors stopped: no reason is read.
  if (bulk_->exits.handle(loop_batch, [this](const report_list::report& e) {
        on_instance_down(e.target, e.instance, e.token, caf::error{});
      }))
    send(caf::actor_cast<caf::actor>(this), exits_atom::value);
}

void event_loop::exit_instances(const actor_record& rec, std::uint32_t first) {
  auto* t = slot_of(rec);
  if (!t || t->state != phase::stopped)
    return;
  auto count = static_cast<std::uint32_t>(t->instances.size());
  auto end = count - first > loop_batch ? first + static_cast<std::uint32_t>(loop_batch) : count;
  scheduler::burst burst; // a pool's instances wake the scheduler's threads in batches
  for (auto i = first; i < end; ++i) {
    auto& inst = t->instances[i];
    if (inst.alive && inst.handle)
      send_exit(inst.handle, caf::exit_reason::user_shutdown);
  }
  if (end < count)
    send(caf::actor_cast<caf::actor>(this), exit_more_atom::value, t->record, end);
}

} // namespace loopbridge::detail
