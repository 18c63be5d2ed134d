#include "loop/event_loop.hpp"

#include <algorithm>

#include "loop/loop_thread.hpp"
#include "registry/admission.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

namespace {

std::string label(const actor_record& rec, std::uint32_t instance) {
  return rec.spec.name + "/" + std::to_string(instance);
}

} // namespace

event_loop::event_loop(caf::actor_config& cfg, std::shared_ptr<runtime_core> core,
                       loop_thread* thread, std::shared_ptr<request_inbox> submissions,
                       std::shared_ptr<request_inbox> reports)
    : caf::event_based_actor(cfg),
      core_(std::move(core)),
      thread_(thread),
      submissions_(std::move(submissions)),
      reports_(std::move(reports)) {}

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
  set_down_handler([this](caf::down_msg& msg) {
    on_down(msg);
    retire_noted();
  });
  // Exit messages from linked actors never kill the loop; it stops only on `stop_atom`.
  set_exit_handler([](caf::exit_msg&) {});
  return {
      [this](drain_atom) { on_drain(); },
      [this](cancel_atom, request_ref& st) { on_cancel(st); },
      [this](spawn_atom, record_ptr& rec) {
        on_spawn(std::move(rec));
        retire_noted();
      },
      [this](ready_atom, std::uint32_t t, std::uint32_t i, std::uint32_t token, value& info) {
        on_ready(t, i, token, std::move(info));
      },
      [this](start_failed_atom, std::uint32_t t, std::uint32_t i, std::uint32_t token,
             error& reason) { on_start_failed(t, i, token, std::move(reason)); },
      [this](tick_atom) {
        on_tick();
        retire_noted();
      },
      [this](stop_actor_atom, request_ref& st, record_ptr& rec) {
        on_stop_actor(st, std::move(rec));
        retire_noted();
      },
      [this](stop_atom, std::int64_t deadline_ns) {
        on_stop_all(time_point{std::chrono::nanoseconds{deadline_ns}});
      },
      [this](kill_atom, record_ptr& rec, std::uint32_t i) { on_kill(rec, i); },
      [this](route_atom, std::uint32_t from, std::uint32_t to) { on_route(from, to); },
  };
}

void event_loop::on_exit() {
  targets_.clear();
  retired_.clear();
  doomed_.clear();
  awaiting_ready_.clear();
  by_addr_.clear();
  core_.reset();
}

// -- spawning and readiness -----------------------------------------------------------------------

std::uint32_t event_loop::next_token(std::uint32_t previous, std::uint32_t i) noexcept {
  // Low bits: the instance; high bits (below the started bit): the incarnation, never 0.
  constexpr std::uint32_t generations = (request_state::started_owner_bit >> instance_bits) - 1;
  auto generation = (previous >> instance_bits) % generations + 1;
  return (generation << instance_bits) | i;
}

void event_loop::on_spawn(record_ptr rec) {
  if (targets_.size() <= rec->index)
    targets_.resize(rec->index + 1);
  // Created already (its first request overtook the spawn message), or even stopped and
  // retired since: the message is stale.
  if (targets_[rec->index] || rec->stopped.load(std::memory_order_acquire))
    return;
  // A stopped actor whose name this one takes can no longer be named: it may be retired.
  for (auto& other : targets_)
    if (other && other->state == phase::stopped && !other->replaced &&
        other->record->spec.name == rec->spec.name) {
      other->replaced = true;
      consider_retiring(*other);
    }
  auto t = std::make_unique<target>();
  t->record = rec;
  // In flight per ready instance. A dedicated thread runs one request at a time: one more
  // waits in the lane for whichever instance is free first, so no thread idles waiting for the
  // loop. A single scheduled instance takes as many as the capacity allows; in a pool each
  // ready instance adds 64, and the rest wait in the actor's queue, where admission and
  // `drop_oldest` still reach them.
  t->per_instance_limit =
      rec->mode == execution::dedicated_thread ? 2u
      : rec->spec.count > 1
          ? 64u
          : static_cast<std::uint32_t>(std::min<std::size_t>(rec->capacity, UINT32_MAX));
  t->instances.resize(rec->spec.count);
  t->lane = std::make_shared<request_lane>(rec->spec.count);
  auto& tr = *t;
  targets_[rec->index] = std::move(t);
  if (stopping_) { // spawned while the runtime shuts down: never starts
    finish_stop(tr, error{errc::stopped, "the runtime stopped"});
    return;
  }
  for (std::uint32_t i = 0; i < rec->spec.count; ++i)
    start_instance(tr, i);
  LB_LOG(debug, "loop",
         "spawned " << rec->spec.name << " (" << rec->kind->name << " x" << rec->spec.count << ")");
}

void event_loop::start_instance(target& t, std::uint32_t i) {
  auto& inst = t.instances[i];
  auto self = caf::actor_cast<caf::actor>(this);
  inst.doorbell =
      t.record->mode != execution::scheduled ? std::make_shared<thread_doorbell>() : nullptr;
  inst.token = next_token(inst.token, i);
  inst.failure = error{};
  inst.ready = false;
  inst.handle = spawn<worker_actor>(t.record, i, inst.token, self, core_, t.lane, inst.doorbell);
  inst.alive = true;
  ++t.alive;
  monitor(inst.handle);
  by_addr_.emplace(inst.handle.address(), std::make_pair(t.record->index, i));
  auto now = clock::now();
  auto limit = std::chrono::duration_cast<clock::duration>(t.record->spec.ready_timeout);
  awaiting_ready_[ready_key(t.record->index, inst.token)] = {
      limit < time_point::max() - now ? now + limit : time_point::max(), t.record->index, i};
  arm_timer();
}

event_loop::target* event_loop::target_of(const actor_record& rec) const {
  auto* t = rec.index < targets_.size() ? targets_[rec.index].get() : nullptr;
  return t && t->record.get() == &rec ? t : nullptr;
}

event_loop::instance_slot* event_loop::incarnation(std::uint32_t ti, std::uint32_t i,
                                                   std::uint32_t token) {
  if (ti >= targets_.size() || !targets_[ti] || i >= targets_[ti]->instances.size())
    return nullptr; // its target was retired (tokens are unique: a reused index never matches)
  auto& inst = targets_[ti]->instances[i];
  return inst.alive && inst.token == token ? &inst : nullptr;
}

void event_loop::on_ready(std::uint32_t ti, std::uint32_t i, std::uint32_t token, value info) {
  auto* found = incarnation(ti, i, token);
  if (!found || found->ready)
    return;
  auto& t = *targets_[ti];
  auto& inst = *found;
  awaiting_ready_.erase(ready_key(ti, token));
  inst.ready = true;
  ++t.ready;
  t.ever_ready = true;
  LB_LOG(debug, "loop", label(*t.record, i) << " ready");
  if (i == 0) {
    std::lock_guard<std::mutex> guard{t.record->ready_info_mutex};
    t.record->ready_info = info;
  }
  if (core_->wants(event_type::ready))
    core_->publish(ready_event{t.record->spec.name, i, std::move(info)});
  pump(t);
}

void event_loop::on_start_failed(std::uint32_t ti, std::uint32_t i, std::uint32_t token,
                                 error reason) {
  auto* found = incarnation(ti, i, token);
  if (!found)
    return;
  auto& t = *targets_[ti];
  auto& inst = *found;
  awaiting_ready_.erase(ready_key(ti, token));
  LB_LOG(warning, "loop", "start of " << label(*t.record, i) << " failed: " << reason);
  if (core_->wants(event_type::start_failed))
    core_->publish(start_failed_event{t.record->spec.name, i, reason});
  // The instance terminates next; its down message does the cleanup with this reason.
  inst.failure = std::move(reason);
  if (inst.ready)
    --t.ready;
  inst.ready = false;
}

void event_loop::on_ready_timeout(std::uint32_t ti, std::uint32_t i, std::uint32_t token) {
  auto* found = incarnation(ti, i, token);
  if (!found || found->ready || !found->failure.code().empty())
    return;
  auto& t = *targets_[ti];
  auto& inst = *found;
  error reason{errc::start_failed, label(*t.record, i) + " was not ready within " +
                                       format_duration(t.record->spec.ready_timeout)};
  on_start_failed(ti, i, token, reason);
  send_exit(inst.handle, caf::exit_reason::kill);
}

// -- the request path -----------------------------------------------------------------------------

void event_loop::on_drain() {
  now_ = clock::now();
  batching_ = true;
  // Workers' reports first: they free credit for what waits. A report for a request the loop no
  // longer tracks (its instance was lost, the actor stopped) only drops its reference.
  reports_->begin_drain();
  int n = 0;
  for (; n < loop_drain_budget; ++n) {
    auto* st = reports_->pop();
    if (!st)
      break;
    if (st->links.where == loop_links::place::in_flight)
      on_finished(st);
    else
      st->release();
  }
  bool more = n == loop_drain_budget && reports_->rearm();
  submissions_->begin_drain();
  for (n = 0; n < loop_drain_budget; ++n) {
    auto* st = submissions_->pop();
    if (!st)
      break;
    on_submit(st);
  }
  bool submissions_drained = n < loop_drain_budget;
  more = (n == loop_drain_budget && submissions_->rearm()) || more;
  batching_ = false;
  flush_releases();
  retire_noted();
  if (submissions_drained)
    sweep_retired();
  if (more)
    send(this, drain_atom::value); // more left: continue after other messages had a turn
}

void event_loop::on_submit(request_state* st) {
  // `st` carries the loop's reference from now on.
  if (st->links.seen) { // a late finished report: the loop had already let it go
    st->release();
    return;
  }
  st->links.seen = true;
  // Requests travel through the inbox, the spawn message through the mailbox: a request sent
  // right after its actor was spawned may arrive first. Its record is all the loop needs.
  // (`st->target` is alive: its submitter held it, and retired records outlive a drain.)
  auto* found = target_of(*st->target);
  if (!found && st->target->stopped.load(std::memory_order_acquire)) {
    // A handle to an actor that stopped and was retired: answered with its stop.
    auto& rec = *st->target;
    actor_counters::add(rec.counters.received);
    st->fail(rec.last_stop.reason);
    count_outcome(rec, *st);
    let_go(st);
    return;
  }
  if (!found) {
    on_spawn(st->target->shared_from_this());
    found = target_of(*st->target);
  }
  target& t = *found;
  if (t.state != phase::running) { // refused: not counted, as it never was accepted
    st->fail(t.state == phase::stopped
                 ? t.stop_reason
                 : error{errc::stopped, st->target->spec.name + " is stopping"});
    let_go(st);
    return;
  }
  if (st->result() != request_state::outcome::none) {
    // Cancelled before it reached the loop: accepted and cancelled at once.
    actor_counters::add(t.record->counters.received);
    count_outcome(*t.record, *st);
    let_go(st);
    return;
  }
  st->links.accepted_at = now_;
  auto& c = t.record->counters;
  actor_counters::add(c.received);
  // Overflow: `block` took its place before submitting (admission); `reject` and
  // `drop_oldest` are decided here.
  auto policy = t.record->spec.mailbox.overflow;
  if (policy != overflow_policy::block && t.queue.size() + t.in_flight >= t.record->capacity) {
    auto full = error{errc::overloaded, t.record->spec.name + " is full (capacity " +
                                            std::to_string(t.record->capacity) + ")"};
    if (policy == overflow_policy::drop_oldest && !t.queue.empty()) {
      auto* oldest = t.queue.front();
      oldest->fail(error{errc::overloaded, full.message() + ": dropped the oldest queued request"});
      untrack(t, oldest);
    } else {
      st->fail(full);
      count_outcome(*t.record, *st);
      let_go(st);
      publish_gauges(t);
      return;
    }
  }
  if (st->deadline != time_point::max()) {
    deadlines_.insert(st);
    if (st->deadline < armed_)
      arm_timer();
  }
  st->links.where = loop_links::place::queued;
  t.queue.push_back(st);
  pump(t);
  publish_gauges(t);
}

bool event_loop::has_room(const target& t) const {
  if (t.record->spec.mailbox.overflow != overflow_policy::block)
    return true;
  return t.record->admission.occupancy.load(std::memory_order_acquire) <
         static_cast<std::int64_t>(t.record->capacity);
}

void event_loop::pump(target& t) {
  target* next = t.route_to >= 0 ? targets_[t.route_to].get() : nullptr;
  auto limit = std::min<std::uint64_t>(static_cast<std::uint64_t>(t.ready) * t.per_instance_limit,
                                       t.record->capacity);
  batch_.clear();
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
  if (batch_.empty())
    return;
  idle_.clear();
  t.lane->push(batch_, idle_); // one lock for the batch
  for (auto i : idle_)
    wake(t, i);
  publish_gauges(t);
}

void event_loop::wake(target& t, std::uint32_t i) {
  auto& inst = t.instances[i];
  if (!inst.alive) { // it died before it could tell: wake another instead
    t.lane->leave(i);
    if (auto other = t.lane->wake_one(); other != request_lane::none)
      wake(t, other);
    return;
  }
  if (inst.doorbell)
    inst.doorbell->ring(); // straight to the instance's thread
  else
    send(inst.handle, drain_atom::value);
}

event_loop::instance_slot* event_loop::holder(target& t, const request_state& st) {
  auto token = st.owner();
  if (token == 0)
    return nullptr;
  auto i = token & instance_mask;
  if (i >= t.instances.size() || t.instances[i].token != token || !t.instances[i].alive)
    return nullptr;
  return &t.instances[i];
}

void event_loop::publish_gauges(target& t) {
  auto& c = t.record->counters;
  c.queued.store(t.queue.size(), std::memory_order_relaxed);
  c.in_flight.store(t.in_flight, std::memory_order_relaxed);
  auto held = t.queue.size() + t.in_flight;
  if (held > c.max_held.load(std::memory_order_relaxed))
    c.max_held.store(held, std::memory_order_relaxed);
}

void event_loop::on_finished(request_state* st) {
  auto& t = *targets_[st->target->index];
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
  ref_ptr<request_state> finished_parent;
  if (st->parent && !st->failed() && !st->parent->done()) {
    if (t.route_to >= 0)
      next = next_stage(t, st);
    else if (adopt_last_stage(t, st))
      finished_parent = st->parent;
  }
  untrack(t, st); // drops the loop's reference
  if (auto limit = t.record->spec.stop_after;
      limit > 0 && t.reported >= limit && t.state == phase::running)
    begin_stop(t, now_ + std::chrono::seconds(1)); // a one-shot actor's work is done
  if (finished_parent) {
    finished_parent->publish();
    finished_parent->mark_settled();
  }
  st->release(); // the reference the worker sent back
  if (next)
    on_submit(next.detach());
  pump(t);
  publish_gauges(t);
  for (auto up : t.upstream) // room freed here may let a stage upstream continue
    pump(*targets_[up]);
  check_drained(t);
}

bool event_loop::adopt_last_stage(target& t, request_state* st) {
  auto* parent = st->parent.get();
  if (!parent->try_claim(request_state::outcome::completed))
    return false;
  if (!parent->adopt_reply(*st))
    parent->set_error(error{errc::bad_request, "the pipeline's last stage (" + t.record->spec.name +
                                                   ") replies with another type"});
  return true; // claimed; published by the caller
}

request_ref event_loop::next_stage(target& t, request_state* st) {
  auto* parent = st->parent.get();
  auto& to = *targets_[t.route_to];
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

void event_loop::untrack(target& t, request_state* st) {
  switch (st->links.where) {
    case loop_links::place::queued:
      t.queue.remove(st);
      break;
    case loop_links::place::in_flight:
      t.flying.remove(st);
      --t.in_flight;
      break;
    case loop_links::place::none:
      return;
  }
  st->links.where = loop_links::place::none;
  deadlines_.remove(st);
  count_outcome(*t.record, *st);
  if (st->links.in_stop) { // its outcome is part of what the stop did
    auto o = st->result();
    if (o == request_state::outcome::completed)
      ++t.stop_completed;
    else if (o == request_state::outcome::failed)
      ++t.stop_failed;
  }
  publish_gauges(t); // before anyone sees the request settled
  let_go(st);
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
  if (!batching_ || !target_of(rec)) {
    release_places(rec, 1);
    return;
  }
  if (pending_releases_.size() <= index)
    pending_releases_.resize(index + 1, 0);
  ++pending_releases_[index];
}

void event_loop::flush_releases() {
  for (std::uint32_t i = 0; i < pending_releases_.size(); ++i)
    if (pending_releases_[i] > 0) {
      if (targets_[i]) // only live targets batch (see give_back_place)
        release_places(*targets_[i]->record, pending_releases_[i]);
      pending_releases_[i] = 0;
    }
}

void event_loop::let_go(request_state* st) {
  if (st->admitted) {
    st->admitted = false;
    give_back_place(*st->target);
  }
  if (st->links.reserved_next) { // a stage that will not continue frees its reservation
    st->links.reserved_next = false;
    auto& t = *targets_[st->target->index]; // it was dispatched: its target is live
    if (t.route_to >= 0)
      give_back_place(*targets_[t.route_to]->record);
  }
  if (auto* parent = st->parent.get()) {
    if (!parent->done() && (parent->links.stage == st || parent->links.stage == nullptr))
      end_pipeline(*parent, *st);
    if (parent->links.stage == st || parent->links.stage == nullptr) {
      parent->links.stage = nullptr;
      if (parent->done())
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
  auto* t = target_of(*stage.target);
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
  auto& t = *targets_[st->target->index];
  if (st->links.where == loop_links::place::queued) {
    untrack(t, st); // removed without running
    publish_gauges(t);
    check_drained(t);
    return;
  }
  // In flight: still in the lane, it is skipped when taken; taken, its worker hears of it.
  if (auto* inst = holder(t, *st))
    send(inst->handle, cancel_atom::value, request_ref::share(st));
}

// -- deadlines ------------------------------------------------------------------------------------

void event_loop::arm_timer() {
  auto next = deadlines_.next_expiry();
  for (auto& t : targets_)
    if (t && t->state == phase::draining)
      next = std::min(next, t->stop_deadline);
  if (stopping_)
    next = std::min(next, shutdown_deadline_);
  for (auto& [token, waiting] : awaiting_ready_) // few: instances between start and ready
    next = std::min(next, waiting.deadline);
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
  std::vector<std::pair<std::uint32_t, awaiting_ready>> late; // token, entry
  for (auto& [key, waiting] : awaiting_ready_)
    if (waiting.deadline <= now)
      late.emplace_back(static_cast<std::uint32_t>(key), waiting);
  for (auto& [token, waiting] : late) {
    awaiting_ready_.erase(ready_key(waiting.target, token));
    on_ready_timeout(waiting.target, waiting.instance, token);
  }
  for (auto& t : targets_)
    if (t && t->state == phase::draining && t->stop_deadline <= now)
      finish_stop(*t, error{errc::stopped, t->record->spec.name + " stopped: its stop deadline "
                                                                  "passed before it drained"});
  if (stopping_ && now >= shutdown_deadline_)
    advance_shutdown();
  arm_timer();
}

void event_loop::expire(request_state* st) {
  auto& t = *targets_[st->target->index];
  // The outcome first, then the token: a worker polling the token must not get to fail the
  // request with its own error before the timeout is recorded.
  st->fail(error{errc::timeout, "deadline passed before " + t.record->spec.name + " replied"});
  st->request_cancel();
  if (st->links.where == loop_links::place::queued) {
    untrack(t, st); // it never runs
    publish_gauges(t);
    check_drained(t);
  } else if (st->links.where == loop_links::place::in_flight) {
    // Keep it in flight until the worker reports it finished (its credit is still used).
    if (auto* inst = holder(t, *st))
      send(inst->handle, cancel_atom::value, request_ref::share(st));
  }
}

// -- failures -------------------------------------------------------------------------------------

void event_loop::on_down(const caf::down_msg& msg) {
  auto it = by_addr_.find(msg.source);
  if (it == by_addr_.end())
    return;
  auto [ti, ii] = it->second;
  by_addr_.erase(it);
  auto& t = *targets_[ti];
  if (!t.instances[ii].alive)
    return;
  auto& inst = t.instances[ii];
  error reason = inst.failure.code().empty()
                     ? error{errc::worker_failed,
                             label(*t.record, ii) + " failed: " + describe_exit_reason(msg.reason)}
                     : inst.failure;
  if (t.state == phase::running && !stopping_)
    LB_LOG(warning, "loop", label(*t.record, ii) << " stopped: " << reason.message());
  instance_lost(t, ii, std::move(reason));
}

void event_loop::instance_lost(target& t, std::uint32_t instance, error reason) {
  auto& inst = t.instances[instance];
  awaiting_ready_.erase(ready_key(t.record->index, inst.token));
  t.lane->leave(instance);
  if (inst.ready)
    --t.ready;
  inst.alive = false;
  inst.ready = false;
  inst.handle = nullptr;
  --t.alive;
  if (t.state == phase::stopped)
    consider_retiring(t);
  // Requests it took and never started run elsewhere (front of the queue, in their order);
  // the ones it was running fail. What it never took stays in the lane for the others.
  std::vector<request_state*> requeue;
  for (auto* st = t.flying.front(); st;) {
    auto* next = st->links.next;
    if (st->owner() == inst.token) {
      if (t.state == phase::running && !st->done() && st->revoke(inst.token)) {
        // Its own reference goes with the instance (a late report of it is dropped).
        t.flying.remove(st);
        --t.in_flight;
        requeue.push_back(st);
      } else {
        st->fail(t.state == phase::running ? reason : error{errc::stopped, "the actor stopped"});
        untrack(t, st);
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
  // Supervision: restart the instance while the budget (max_restarts within period) lasts.
  auto& policy = t.record->spec.restart;
  if (t.state == phase::running && !stopping_ && policy.policy == restart_policy::on_failure) {
    auto now = clock::now();
    while (!t.restarts.empty() && now - t.restarts.front() > policy.period)
      t.restarts.pop_front();
    if (t.restarts.size() < policy.max_restarts) {
      t.restarts.push_back(now);
      ++t.restart_count;
      actor_counters::add(t.record->counters.restarts);
      LB_LOG(info, "loop",
             "restarting " << label(*t.record, instance) << " (restart " << t.restart_count
                           << "): " << reason.message());
      start_instance(t, instance);
      if (core_->wants(event_type::restarted))
        core_->publish(restarted_event{t.record->spec.name, instance, t.restart_count, reason});
      publish_gauges(t);
      return;
    }
    finish_stop(t, error{errc::stopped, t.record->spec.name + " stopped: restart budget spent (" +
                                            std::to_string(policy.max_restarts) +
                                            " restarts within " + format_duration(policy.period) +
                                            "); last failure: " + reason.message()});
    maybe_quit();
    return;
  }
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

void event_loop::fail_all(target& t, const error& reason) {
  while (auto* st = t.queue.front()) {
    if (st->fail(reason))
      ++t.stop_cancelled;
    untrack(t, st);
  }
  while (auto* st = t.flying.front()) {
    if (st->fail(reason)) {
      ++t.stop_cancelled;
      if (st->started())
        ++t.stop_abandoned; // its instance still runs it
    }
    st->request_cancel(); // an instance taking it now skips it
    untrack(t, st);
  }
  publish_gauges(t);
}

// -- stopping -------------------------------------------------------------------------------------

void event_loop::on_kill(const record_ptr& rec, std::uint32_t i) {
  auto* found = target_of(*rec);
  if (!found || i >= found->instances.size())
    return; // retired: nothing left to kill
  auto& t = *found;
  auto& inst = t.instances[i];
  if (!inst.alive || !inst.handle)
    return;
  inst.failure = error{errc::worker_failed, label(*t.record, i) + " was killed (kill_instance)"};
  send_exit(inst.handle, caf::exit_reason::kill);
}

void event_loop::on_route(std::uint32_t from, std::uint32_t to) {
  // Routes name live actors, and a target with a route is never retired; one-shot actors
  // (the only ones retired while their name is current) take no routes.
  if (from >= targets_.size() || to >= targets_.size() || !targets_[from] || !targets_[to])
    return;
  targets_[from]->route_to = to;
  targets_[to]->upstream.push_back(from);
}

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
