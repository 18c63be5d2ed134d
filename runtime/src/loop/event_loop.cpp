// The event-loop actor: its behavior, and the request path from submission to a worker
// instance (intake, admission to a lane, waking an instance).
#include "loop/event_loop.hpp"

#include <algorithm>

#include "events/publish_batch.hpp"
#include "loop/instance_batch.hpp"
#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

event_loop::event_loop(caf::actor_config& cfg, std::shared_ptr<runtime_core> core,
                       loop_thread* thread, std::shared_ptr<request_inbox> submissions,
                       std::shared_ptr<request_inbox> reports, std::shared_ptr<direct_notes> notes)
    : caf::event_based_actor(cfg),
      core_(std::move(core)),
      thread_(thread),
      submissions_(std::move(submissions)),
      reports_(std::move(reports)),
      notes_(std::move(notes)) {}

void event_loop::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit*) {
  // The same protocol as caf::scheduled_actor::enqueue, except that a loop that became
  // runnable is handed to its own thread. The loop never receives requests (only plain
  // sends), so a message arriving after it terminated is simply dropped.
  switch (mailbox().push_back(std::move(ptr))) {
    case caf::intrusive::inbox_result::unblocked_reader:
      intrusive_ptr_add_ref(ctrl());
      thread_->notify();
      break;
    case caf::intrusive::inbox_result::queue_closed:
    case caf::intrusive::inbox_result::success:
      break;
  }
}

caf::behavior event_loop::make_behavior() {
  // Exit messages from linked actors never kill the loop; it stops only on `stop_atom`.
  set_exit_handler([](caf::exit_msg&) {});
  return {
      [this](drain_atom) { on_drain(); },
      [this](cancel_atom, request_ref& st) {
        take_notes();
        on_cancel(st);
      },
      [this](spawn_atom) {
        take_spawns(loop_batch);
        retire_noted();
      },
      [this](spawn_more_atom, record_ptr& rec, std::uint32_t first) {
        spawn_instances(*rec, first);
      },
      [this](made_atom, batch_ptr& batch) { on_made(*batch); },
      [this](exit_more_atom, record_ptr& rec, std::uint32_t first) { exit_instances(*rec, first); },
      [this](shutdown_more_atom) {
        if (stopping_)
          advance_shutdown();
      },
      [this](instance_down_atom, std::uint32_t t, std::uint32_t i, std::uint32_t token,
             caf::error& reason) {
        take_readies(SIZE_MAX); // the instance's readiness, if it waits, comes first
        take_notes();
        on_instance_down(t, i, token, reason);
        retire_noted();
      },
      [this](exits_atom) {
        take_exits();
        retire_noted();
      },
      [this](end_atom) { free_slots(); },
      [this](ready_atom, std::uint32_t t, std::uint32_t i, std::uint32_t token, value& info) {
        on_ready(t, i, token, std::move(info));
      },
      [this](ready_atom) { take_readies(loop_batch); },
      [this](start_failed_atom, std::uint32_t t, std::uint32_t i, std::uint32_t token,
             error& reason) {
        take_readies(SIZE_MAX); // the instance's readiness, if it waits, comes first
        on_start_failed(t, i, token, std::move(reason));
      },
      [this](tick_atom) {
        take_notes();
        on_tick();
        retire_noted();
      },
      [this](pump_atom, std::uint32_t index) {
        if (index < slots_.size() && slots_[index] && slots_[index]->state != phase::stopped)
          pump(*slots_[index]);
      },
      [this](stop_actor_atom, request_ref& st, record_ptr& rec) {
        take_notes();
        on_stop_actor(st, std::move(rec));
        retire_noted();
      },
      [this](stop_atom, std::int64_t deadline_ns) {
        take_notes();
        on_stop_all(time_point{std::chrono::nanoseconds{deadline_ns}});
      },
      [this](kill_atom, record_ptr& rec, std::uint32_t i) {
        take_notes();
        on_kill(rec, i);
      },
      [this](route_atom, record_ptr& from, record_ptr& to) { on_route(from, to); },
  };
}

void event_loop::on_exit() {
  publish_batch::flush(); // before the loop reports its end (and the inboxes close)
  slots_.clear();
  retired_.clear();
  doomed_.clear();
  starting_.clear();
  stop_deadlines_.clear();
  stopped_names_.clear();
  spawning_.clear();
  core_.reset();
}

// -- the request path -----------------------------------------------------------------------------

void event_loop::on_drain() {
  now_ = clock::now();
  batching_ = true;
  take_notes(); // before their reports
  // Workers' reports first: they free credit for what waits. A report for a request the loop no
  // longer tracks (its instance was lost, the actor stopped) only drops its reference.
  reports_->begin_drain();
  int n = 0;
  for (; n < loop_drain_budget; ++n) {
    auto* st = reports_->pop();
    if (!st)
      break;
    if (st->direct && !st->links.seen)
      take_notes(); // its note was made before it reached the lane: it is there now
    if (st->links.where == loop_links::place::in_flight)
      on_done(st);
    else
      st->release();
    if ((n + 1) % loop_pump_batch == 0)
      pump_due(); // instances need not wait for the whole batch
  }
  bool more = n == loop_drain_budget && reports_->rearm();
  submissions_->begin_drain();
  for (n = 0; n < loop_drain_budget; ++n) {
    auto* st = submissions_->pop();
    if (!st)
      break;
    on_submit(st);
    if ((n + 1) % loop_pump_batch == 0)
      pump_due();
  }
  bool submissions_drained = n < loop_drain_budget;
  more = (n == loop_drain_budget && submissions_->rearm()) || more;
  pump_due();
  batching_ = false;
  mark_held_due();
  flush_releases();
  retire_noted();
  if (submissions_drained)
    sweep_retired();
  if (more)
    send(this, drain_atom::value); // more left: continue after other messages had a turn
}

void event_loop::on_submit(request_state* st) {
  // `st` carries the loop's reference from now on.
  if (st->links.seen) { // a late done report: the loop had already settled it
    st->release();
    return;
  }
  st->links.seen = true;
  st->links.pending = st->via_loop;
  // Requests travel through the inbox, the spawn message through the mailbox: a request sent
  // right after its actor was spawned may arrive first. Its record is all the loop needs.
  // (`st->target` is alive: its submitter held it, and retired records outlive a drain.)
  auto* found = slot_of(*st->target);
  if (!found && st->target->stopped.load(std::memory_order_acquire)) {
    // A handle to an actor that stopped and was retired: answered with its stop.
    auto& rec = *st->target;
    actor_counters::count_received(rec.counters);
    st->fail(rec.stop_report().reason);
    count_outcome(rec, *st);
    settle_untracked(st);
    return;
  }
  if (!found) {
    on_spawn(st->target->shared_from_this());
    found = slot_of(*st->target);
  }
  actor_slot& t = *found;
  if (t.state != phase::serving) { // refused: not counted, as it never was accepted
    st->fail(t.state == phase::stopped
                 ? t.stop->reason
                 : error{errc::stopped, st->target->spec.name + " is stopping"});
    settle_untracked(st);
    return;
  }
  if (st->result() != request_state::outcome::none) {
    // Cancelled before it reached the loop: accepted and cancelled at once.
    actor_counters::count_received(t.record->counters);
    count_outcome(*t.record, *st);
    settle_untracked(st);
    return;
  }
  if (t.record->spec.mailbox.overflow == overflow_policy::block && !st->admitted) {
    // Submitted from a thread that must not block while the actor was full: it waits here.
    if (!try_admit(*t.record)) {
      await_room(t, st);
      return;
    }
    st->admitted = true;
  }
  accept(t, st);
}

void event_loop::await_room(actor_slot& t, request_state* st) {
  st->links.where = loop_links::place::awaiting_room;
  t.awaiting_room.push_back(st);
  update_prompt(t);
  watch_deadline(st);
}

void event_loop::watch_deadline(request_state* st) {
  if (st->deadline == time_point::max())
    return;
  deadlines_.insert(st);
  if (st->deadline < armed_)
    arm_timer();
}

void event_loop::leave_awaiting(actor_slot& t, request_state* st) {
  t.awaiting_room.remove(st);
  deadlines_.remove(st);
  st->links.where = loop_links::place::none;
}

void event_loop::admit_awaiting(actor_slot& t) {
  while (!t.awaiting_room.empty() && t.state == phase::serving && try_admit(*t.record)) {
    auto* st = t.awaiting_room.front();
    leave_awaiting(t, st); // accepted, it is indexed again
    st->admitted = true;
    accept(t, st);
  }
}

void event_loop::refuse_awaiting(actor_slot& t, const error& why) {
  while (auto* st = t.awaiting_room.front()) {
    leave_awaiting(t, st);
    st->fail(why);
    settle_untracked(st); // never accepted: not in the actor's counts
  }
}

void event_loop::accept(actor_slot& t, request_state* st) {
  st->links.accepted_at = now_;
  auto& c = t.record->counters;
  actor_counters::count_received(c);
  // Overflow: `block` took its place before submitting (admission); `reject` and
  // `drop_oldest` are decided here.
  auto policy = t.record->spec.mailbox.overflow;
  if (policy != overflow_policy::block && t.queue.size() + t.in_flight >= t.record->capacity) {
    auto full = error{errc::overloaded, t.record->spec.name + " is full (capacity " +
                                            std::to_string(t.record->capacity) + ")"};
    if (policy == overflow_policy::drop_oldest && t.pump_due) {
      // What this batch accepted before goes to the instances first, as it would have without
      // the batch: the oldest request still queued after that is the one dropped.
      t.pump_due = false;
      pump(t);
    }
    if (policy == overflow_policy::drop_oldest && !t.queue.empty()) {
      auto* oldest = t.queue.front();
      oldest->fail(error{errc::overloaded, full.message() + ": dropped the oldest queued request"});
      settle(t, oldest);
    } else {
      st->fail(full);
      count_outcome(*t.record, *st);
      settle_untracked(st);
      publish_gauges(t);
      return;
    }
  }
  watch_deadline(st);
  st->links.where = loop_links::place::queued;
  t.queue.push_back(st);
  pump_soon(t);
  publish_gauges(t);
}

bool event_loop::has_room(const actor_slot& t) const {
  if (t.record->spec.mailbox.overflow != overflow_policy::block)
    return true;
  return t.record->admission.occupancy.load(std::memory_order_acquire) <
         static_cast<std::int64_t>(t.record->capacity);
}

void event_loop::pump(actor_slot& t) {
  actor_slot* next = t.route_to >= 0 ? slots_[t.route_to].get() : nullptr;
  batch_.clear();
  for (;;) {
    // Suspended requests (handlers returned, answers still to come) stay in flight but leave
    // their instances free: as many more may go out.
    auto suspended = t.record->counters.suspended.load(std::memory_order_seq_cst);
    auto limit = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(t.ready) * t.per_instance_limit +
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, suspended)),
        t.record->capacity);
    while (!t.queue.empty() && t.in_flight < limit) {
      // Credit: a pipeline stage is handed out only when the next stage's actor has room for
      // what it will produce; the place is reserved now, so nothing downstream overflows.
      auto* head = t.queue.front();
      bool reserve = next && head->parent && !head->links.reserved_next &&
                     next->record->spec.mailbox.overflow == overflow_policy::block;
      if (reserve && !has_room(*next))
        break;
      if (reserve) {
        admit_unchecked(*next->record);
        head->links.reserved_next = true;
      }
      auto* st = t.queue.pop_front();
      st->links.where = loop_links::place::in_flight;
      t.flying.push_back(st);
      ++t.in_flight;
      st->add_ref(); // the lane's reference, then the instance's that takes it
      batch_.push_back(st);
    }
    // Requests wait because the instances hold all they may: an instance that suspends one
    // then asks for more (pump_atom). It counts up before it reads the flag, the loop sets the
    // flag before it reads the count again, so one of the two sees the other.
    bool starved = !t.queue.empty() && t.in_flight >= limit && limit < t.record->capacity;
    if (starved || t.lane->starved.load(std::memory_order_relaxed))
      t.lane->starved.store(starved, std::memory_order_seq_cst);
    if (!starved || t.record->counters.suspended.load(std::memory_order_seq_cst) == suspended)
      break;
  }
  if (batch_.empty()) {
    update_prompt(t);
    return;
  }
  idle_.clear();
  t.lane->push(batch_, idle_); // one lock for the batch
  for (auto* st : batch_)
    drop_pending(*st); // in the lane: a direct submission now comes after it
  for (auto i : idle_)
    wake(t, i);
  publish_gauges(t);
}

void event_loop::pump_soon(actor_slot& t) {
  if (!batching_) {
    pump(t);
  } else if (!t.pump_due) {
    t.pump_due = true;
    pumps_due_.push_back(t.record->index);
  }
}

void event_loop::pump_due() {
  for (auto index : pumps_due_)
    if (auto& t = slots_[index]; t && t->pump_due) {
      t->pump_due = false;
      pump(*t);
    }
  pumps_due_.clear();
}

void event_loop::wake(actor_slot& t, std::uint32_t i) {
  auto& inst = t.instances[i];
  if (!inst.alive) { // it died before it could tell: wake another instead
    t.lane->leave(i);
    if (auto other = t.lane->wake_one(); other != request_lane::none)
      wake(t, other);
    return;
  }
  nudge(inst);
}

void event_loop::nudge(instance_slot& inst) {
  if (inst.doorbell)
    inst.doorbell->ring(); // straight to the instance's thread
  else
    send(inst.handle, drain_atom::value);
}

event_loop::instance_slot* event_loop::holder(actor_slot& t, const request_state& st) {
  auto token = st.owner();
  if (token == 0)
    return nullptr;
  auto i = token & instance_mask;
  if (i >= t.instances.size() || t.instances[i].token != token || !t.instances[i].alive)
    return nullptr;
  return &t.instances[i];
}

void event_loop::update_prompt(actor_slot& t) {
  bool want = t.state != phase::serving || stopping_ || !t.queue.empty() ||
              !t.awaiting_room.empty() || t.route_to >= 0 || !t.upstream.empty() ||
              t.record->spec.stop_after > 0;
  update_direct(t, want);
  auto& flag = t.record->prompt_reports;
  if (flag.load(std::memory_order_relaxed) == want)
    return;
  flag.store(want, std::memory_order_seq_cst);
  // Reports that went quiet before the workers could see the flag are taken now.
  if (want && reports_->want_now())
    send(this, drain_atom::value);
}

void event_loop::update_direct(actor_slot& t, bool prompt) {
  if (!t.record->direct_capable)
    return;
  bool open = !prompt && t.ready == 1 && !t.instances.empty() && t.instances[0].ready &&
              t.instances[0].handle;
  if (open == t.direct)
    return;
  t.direct = open;
  auto& rec = *t.record;
  if (open) {
    if (!rec.direct_keep)
      rec.direct_keep = t.lane;
    t.lane->open_direct(t.instances[0].handle, t.instances[0].doorbell);
    rec.direct_lane.store(t.lane.get(), std::memory_order_release);
    return;
  }
  rec.direct_lane.store(nullptr, std::memory_order_release);
  t.lane->close_direct();
  take_notes();
}

void event_loop::take_notes() {
  if (!notes_->pending())
    return;
  // A local batch: taking a note in may close another lane, which takes notes in again.
  std::vector<request_state*> batch;
  batch.swap(noted_);
  notes_->take(batch);
  now_ = clock::now();
  for (auto* st : batch)
    on_note(st);
  batch.clear();
  if (batch.capacity() > noted_.capacity())
    noted_.swap(batch);
}

void event_loop::on_note(request_state* st) {
  auto* found = slot_of(*st->target);
  if (!found || st->links.seen) { // cannot happen: a lane closes (taking notes) before either
    st->release();
    return;
  }
  auto& t = *found;
  st->links.seen = true;
  st->links.accepted_at = now_; // its submitter counted it received
  watch_deadline(st);
  st->links.where = loop_links::place::in_flight;
  t.flying.push_back(st);
  ++t.in_flight;
  publish_gauges(t);
}

void event_loop::drop_pending(request_state& st) noexcept {
  if (!st.links.pending)
    return;
  st.links.pending = false;
  st.target->loop_pending.fetch_sub(1, std::memory_order_seq_cst);
}

void event_loop::publish_gauges(actor_slot& t) {
  update_prompt(t);
  auto& c = t.record->counters;
  c.queued.store(t.queue.size(), std::memory_order_relaxed);
  c.in_flight.store(t.in_flight, std::memory_order_relaxed);
  if (!batching_) {
    mark_held(t);
  } else if (!t.held_due) {
    t.held_due = true;
    held_due_.push_back(t.record->index);
  }
}

void event_loop::mark_held(actor_slot& t) {
  auto& c = t.record->counters;
  auto held = t.queue.size() + t.in_flight;
  if (held > c.max_held.load(std::memory_order_relaxed))
    c.max_held.store(held, std::memory_order_relaxed);
}

void event_loop::mark_held_due() {
  for (auto index : held_due_)
    if (auto& t = slots_[index]; t && t->held_due) {
      t->held_due = false;
      mark_held(*t);
    }
  held_due_.clear();
}

} // namespace loopbridge::detail
