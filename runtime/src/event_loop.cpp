#include "event_loop.hpp"

#include "loop_thread.hpp"
#include "runtime_core.hpp"
#include "worker_actor.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

namespace {

std::string label(const actor_record& rec, std::uint32_t instance) {
  return rec.spec.name + "/" + std::to_string(instance);
}

} // namespace

namespace {
/// Requests taken from the inbox per drain message before the loop lets others run.
constexpr int drain_budget = 1024;
} // namespace

event_loop::event_loop(caf::actor_config& cfg, std::shared_ptr<runtime_core> core,
                       loop_thread* thread, std::shared_ptr<request_inbox> inbox)
    : caf::event_based_actor(cfg),
      core_(std::move(core)),
      thread_(thread),
      inbox_(std::move(inbox)) {}

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
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  // Exit messages from linked actors never kill the loop; it stops only on `stop_atom`.
  set_exit_handler([](caf::exit_msg&) {});
  return {
      [this](drain_atom) { on_drain(); },
      [this](cancel_atom, request_ref& st) { on_cancel(st); },
      [this](spawn_atom, record_ptr& rec) { on_spawn(std::move(rec)); },
      [this](ready_atom, std::uint32_t t, std::uint32_t i) { on_ready(t, i); },
      [this](start_failed_atom, std::uint32_t t, std::uint32_t i, error& reason) {
        on_start_failed(t, i, std::move(reason));
      },
      [this](tick_atom) { on_tick(); },
      [this](stop_atom) { on_stop(); },
  };
}

void event_loop::on_exit() {
  targets_.clear();
  by_addr_.clear();
  core_.reset();
}

// -- spawning -------------------------------------------------------------------------------------

void event_loop::on_spawn(record_ptr rec) {
  if (targets_.size() <= rec->index)
    targets_.resize(rec->index + 1);
  auto t = std::make_unique<target>();
  t->record = rec;
  // A dedicated thread serves one request at a time: hand it one more so it never idles
  // waiting for the loop. Scheduled instances take as many as the capacity allows.
  t->per_instance_limit =
      rec->mode == execution::dedicated_thread
          ? 2u
          : static_cast<std::uint32_t>(std::min<std::size_t>(rec->capacity, UINT32_MAX));
  t->instances.resize(rec->spec.count);
  auto self = caf::actor_cast<caf::actor>(this);
  for (std::uint32_t i = 0; i < rec->spec.count; ++i) {
    auto& inst = t->instances[i];
    inst.inbox = std::make_shared<request_inbox>();
    inst.token = new_token();
    inst.handle = spawn<worker_actor>(rec, i, inst.token, self, core_, inst.inbox, inbox_);
    inst.alive = true;
    monitor(inst.handle);
    by_addr_.emplace(inst.handle.address(), std::make_pair(rec->index, i));
  }
  t->alive = rec->spec.count;
  LB_LOG(debug, "loop",
         "spawned " << rec->spec.name << " (" << rec->kind->name << " x" << rec->spec.count << ")");
  targets_[rec->index] = std::move(t);
  if (stopping_)
    on_stop();
}

void event_loop::on_ready(std::uint32_t target_index, std::uint32_t instance) {
  auto& t = *targets_[target_index];
  auto& inst = t.instances[instance];
  if (!inst.alive)
    return;
  inst.ready = true;
  LB_LOG(debug, "loop", label(*t.record, instance) << " ready");
  if (core_->wants(event_type::ready))
    core_->publish(ready_event{t.record->spec.name, instance});
  pump(t);
}

void event_loop::on_start_failed(std::uint32_t target_index, std::uint32_t instance, error reason) {
  auto& t = *targets_[target_index];
  LB_LOG(warning, "loop", "start of " << label(*t.record, instance) << " failed: " << reason);
  if (core_->wants(event_type::start_failed))
    core_->publish(start_failed_event{t.record->spec.name, instance, reason});
  // The instance terminates next; its down message does the cleanup with this reason.
  t.instances[instance].failure = std::move(reason);
  t.instances[instance].ready = false;
}

std::uint32_t event_loop::new_token() noexcept {
  auto token = next_token_++;
  if (next_token_ >= request_state::started_owner_bit)
    next_token_ = 1;
  return token;
}

// -- the request path -----------------------------------------------------------------------------

void event_loop::on_drain() {
  inbox_->begin_drain();
  now_ = clock::now();
  for (int n = 0; n < drain_budget; ++n) {
    auto* st = inbox_->pop();
    if (!st)
      return;
    // A request the loop does not track yet is a new submission; one in flight is a worker's
    // finished report. Anything else is already resolved (its instance was lost or it was
    // cancelled before the loop saw it) and only drops its reference.
    if (st->links.where == loop_links::place::in_flight)
      on_finished(st);
    else
      on_submit(st);
  }
  if (inbox_->rearm())
    send(this, drain_atom::value); // more left: continue after other messages had a turn
}

void event_loop::on_submit(request_state* st) {
  // `st` carries the loop's reference from now on.
  LB_LOG(trace, "loop", "submit #" << st->id << (st->done() ? " (done)" : ""));
  auto index = st->target->index;
  target* t = index < targets_.size() ? targets_[index].get() : nullptr;
  if (!t || t->stopped || stopping_) {
    st->fail(t && t->stopped ? t->stop_reason : error{errc::stopped, "the runtime is stopping"});
    st->mark_settled();
    st->release();
    return;
  }
  if (st->done()) { // cancelled before it reached the loop, or a late finished report
    st->mark_settled();
    st->release();
    return;
  }
  st->links.accepted_at = now_;
  if (st->deadline != time_point::max()) {
    deadlines_.insert(st);
    if (st->deadline < armed_)
      arm_timer();
  }
  // Fast path: an instance with room and nobody waiting ahead.
  if (t->queue.empty()) {
    std::uint32_t best = UINT32_MAX;
    std::size_t best_load = SIZE_MAX;
    for (std::uint32_t i = 0; i < t->instances.size(); ++i) {
      auto& inst = t->instances[i];
      if (inst.ready && inst.held.size() < t->per_instance_limit && inst.held.size() < best_load) {
        best = i;
        best_load = inst.held.size();
      }
    }
    if (best != UINT32_MAX) {
      dispatch(*t, best, st);
      return;
    }
  }
  st->links.where = loop_links::place::queued;
  t->queue.push_back(st);
}

void event_loop::dispatch(target& t, std::uint32_t instance, request_state* st) {
  auto& inst = t.instances[instance];
  st->links.where = loop_links::place::in_flight;
  st->links.instance = instance;
  inst.held.push_back(st);
  st->add_ref(); // the instance's reference, travelling through its inbox
  st->assign_owner(inst.token);
  if (inst.inbox->push(st))
    send(inst.handle, drain_atom::value);
}

void event_loop::pump(target& t) {
  while (!t.queue.empty()) {
    std::uint32_t best = UINT32_MAX;
    std::size_t best_load = SIZE_MAX;
    for (std::uint32_t i = 0; i < t.instances.size(); ++i) {
      auto& inst = t.instances[i];
      if (inst.ready && inst.held.size() < t.per_instance_limit && inst.held.size() < best_load) {
        best = i;
        best_load = inst.held.size();
      }
    }
    if (best == UINT32_MAX)
      return;
    auto* st = t.queue.pop_front();
    dispatch(t, best, st);
  }
}

void event_loop::on_finished(request_state* st) {
  LB_LOG(trace, "loop", "finished #" << st->id);
  auto& t = *targets_[st->target->index];
  ++t.completed;
  if (core_->wants(event_type::done)) {
    done_event e{t.record->spec.name, st->links.instance, st->id, {}, now_ - st->links.accepted_at};
    if (st->failed())
      e.error = st->error();
    core_->publish(e);
  }
  untrack(t, st); // drops the loop's reference
  st->release();  // the reference the worker sent back
  pump(t);
  maybe_quit();
}

void event_loop::untrack(target& t, request_state* st) {
  switch (st->links.where) {
    case loop_links::place::queued:
      t.queue.remove(st);
      break;
    case loop_links::place::in_flight:
      t.instances[st->links.instance].held.remove(st);
      break;
    case loop_links::place::none:
      return;
  }
  st->links.where = loop_links::place::none;
  deadlines_.remove(st);
  st->mark_settled();
  st->release();
}

void event_loop::on_cancel(request_ref& ref) {
  auto* st = ref.get();
  LB_LOG(trace, "loop", "cancel #" << st->id << " where " << static_cast<int>(st->links.where));
  if (st->links.where == loop_links::place::none)
    return;
  auto& t = *targets_[st->target->index];
  if (st->links.where == loop_links::place::queued) {
    untrack(t, st); // removed without running
    return;
  }
  send(t.instances[st->links.instance].handle, cancel_atom::value, request_ref::share(st));
}

// -- deadlines ------------------------------------------------------------------------------------

void event_loop::arm_timer() {
  auto next = deadlines_.next_expiry();
  if (next >= armed_)
    return;
  armed_ = next;
  scheduled_send(caf::actor_cast<caf::actor>(this), next, tick_atom::value);
}

void event_loop::on_tick() {
  auto now = clock::now();
  if (now >= armed_)
    armed_ = time_point::max();
  std::vector<request_state*> expired;
  deadlines_.expire(now, [&](request_state* st) { expired.push_back(st); });
  for (auto* st : expired)
    expire(st);
  arm_timer();
}

void event_loop::expire(request_state* st) {
  auto& t = *targets_[st->target->index];
  st->request_cancel();
  st->fail(error{errc::timeout, "deadline passed before " + t.record->spec.name + " replied"});
  if (st->links.where == loop_links::place::queued) {
    untrack(t, st); // it never runs
  } else if (st->links.where == loop_links::place::in_flight) {
    // Keep it in flight until the worker reports it finished (its credit is still used).
    send(t.instances[st->links.instance].handle, cancel_atom::value, request_ref::share(st));
  }
}

// -- failures and stopping ------------------------------------------------------------------------

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
  if (!stopping_)
    LB_LOG(warning, "loop", label(*t.record, ii) << " stopped: " << reason.message());
  instance_lost(t, ii, reason);
}

void event_loop::instance_lost(target& t, std::uint32_t instance, const error& reason) {
  auto& inst = t.instances[instance];
  inst.alive = false;
  inst.ready = false;
  inst.handle = nullptr;
  --t.alive;
  // The instance is gone, so nobody else consumes its inbox: take back what it never popped.
  while (auto* st = inst.inbox->pop())
    st->release(); // the instance's reference; the loop still tracks it in `held`
  // Requests it never started run elsewhere (front of the queue, in their order); the ones it
  // was running fail.
  std::vector<request_state*> requeue;
  while (auto* st = inst.held.front()) {
    inst.held.remove(st);
    st->links.where = loop_links::place::none;
    if (!stopping_ && !st->done() && st->revoke(inst.token)) {
      requeue.push_back(st);
      continue;
    }
    st->fail(stopping_ ? error{errc::stopped, "the runtime stopped"} : reason);
    deadlines_.remove(st);
    st->mark_settled();
    st->release();
  }
  for (auto it = requeue.rbegin(); it != requeue.rend(); ++it) {
    (*it)->links.where = loop_links::place::queued;
    t.queue.push_front(*it);
  }
  if (t.alive == 0 && !t.stopped) {
    target_stopped(t, stopping_ ? error{errc::stopped, "the runtime stopped"}
                                : error{errc::stopped, t.record->spec.name +
                                                           " stopped: no instance left (" +
                                                           reason.message() + ")"});
  } else {
    pump(t);
  }
  maybe_quit();
}

void event_loop::fail_all(target& t, const error& reason) {
  while (auto* st = t.queue.front()) {
    if (st->fail(reason))
      ++t.cancelled;
    untrack(t, st);
  }
  for (auto& inst : t.instances)
    while (auto* st = inst.held.front()) {
      st->request_cancel();
      if (st->fail(reason))
        ++t.cancelled;
      untrack(t, st);
    }
}

void event_loop::target_stopped(target& t, error reason) {
  t.stopped = true;
  t.stop_reason = std::move(reason);
  fail_all(t, t.stop_reason);
  LB_LOG(info, "loop", t.record->spec.name << " stopped: " << t.stop_reason.message());
  if (core_->wants(event_type::stopped))
    core_->publish(stopped_event{t.record->spec.name, t.stop_reason, t.completed, t.cancelled});
}

void event_loop::on_stop() {
  // Everything submitted before the stop is in the inbox: take it first, so it is resolved.
  while (auto* st = inbox_->pop()) {
    if (st->links.where == loop_links::place::in_flight)
      on_finished(st);
    else
      on_submit(st);
  }
  stopping_ = true;
  error reason{errc::stopped, "the runtime stopped"};
  for (auto& t : targets_) {
    if (!t)
      continue;
    if (!t->stopped)
      target_stopped(*t, reason);
    for (auto& inst : t->instances)
      if (inst.alive && inst.handle)
        send_exit(inst.handle, caf::exit_reason::user_shutdown);
  }
  maybe_quit();
}

void event_loop::maybe_quit() {
  if (!stopping_)
    return;
  for (auto& t : targets_)
    if (t && t->alive > 0)
      return;
  quit();
}

} // namespace loopbridge::detail
