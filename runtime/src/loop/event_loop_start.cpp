// The event loop: spawning an actor's instances, their readiness and start failures, and the
// routes between actors.
#include "loop/event_loop.hpp"

#include <algorithm>

#include "loop/instance_batch.hpp"
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

// -- spawning and readiness -----------------------------------------------------------------------

std::uint32_t event_loop::next_token(std::uint32_t previous, std::uint32_t i) noexcept {
  // Low bits: the instance; high bits (below the started bit): the incarnation, never 0.
  constexpr std::uint32_t generations = (request_state::started_owner_bit >> instance_bits) - 1;
  auto generation = (previous >> instance_bits) % generations + 1;
  return (generation << instance_bits) | i;
}

void event_loop::on_spawn(record_ptr rec) {
  if (slots_.size() <= rec->index)
    slots_.resize(rec->index + 1);
  // Created already (a request, stop or route for it came first), or even stopped and retired
  // since: nothing to do.
  if (slots_[rec->index] || rec->stopped.load(std::memory_order_acquire))
    return;
  // A stopped actor whose name this one takes can no longer be named: it may be retired.
  if (auto it = stopped_names_.empty() ? stopped_names_.end() : stopped_names_.find(rec->spec.name);
      it != stopped_names_.end()) {
    auto& other = slots_[it->second];
    if (other && other->state == phase::stopped && !other->replaced &&
        other->record->spec.name == rec->spec.name) {
      other->replaced = true;
      consider_retiring(*other);
    }
    stopped_names_.erase(it);
  }
  auto t = std::make_unique<actor_slot>();
  t->record = rec;
  // In flight per ready instance (see `lane_share`): a single scheduled instance takes as many
  // as the capacity allows.
  if (rec->mode == execution::dedicated_thread)
    t->per_instance_limit = rec->spec.mailbox.overflow == overflow_policy::drop_oldest
                                ? lane_share_drop_oldest
                                : lane_share;
  else if (rec->spec.count > 1)
    t->per_instance_limit = lane_share;
  else
    t->per_instance_limit =
        static_cast<std::uint32_t>(std::min<std::size_t>(rec->capacity, UINT32_MAX));
  t->instances.reserve(rec->spec.count);
  // Dedicated threads wake each other while work waits (see request_lane).
  t->lane = make_pooled<request_lane>(
      rec->spec.count, bulk_, rec->mode == execution::dedicated_thread && rec->spec.node.empty());
  auto& tr = *t;
  slots_[rec->index] = std::move(t);
  ++targets_unstopped_;
  if (stopping_) { // spawned while the runtime shuts down: never starts
    finish_stop(tr, error{errc::stopped, "the runtime stopped"});
    return;
  }
  spawn_instances(*rec, 0);
}

void event_loop::take_spawns(std::size_t budget) {
  core_->take_spawns(spawning_);
  {
    scheduler::burst burst; // named actors' instances wake the scheduler's threads in batches
    std::size_t started = 0;
    while (!spawning_.empty() && started < budget) {
      auto rec = std::move(spawning_.front());
      spawning_.pop_front();
      started += std::min<std::size_t>(rec->spec.count, loop_batch);
      on_spawn(std::move(rec));
    }
  }
  if (!spawning_.empty())
    send(caf::actor_cast<caf::actor>(this), spawn_atom::value); // after other messages
}

void event_loop::spawn_instances(const actor_record& rec, std::uint32_t first) {
  auto* t = slot_of(rec);
  if (!t || t->state != phase::serving || stopping_)
    return;
  if (rec.mode == execution::scheduled && rec.spec.node.empty()) {
    to_make_.push_back({t->record, first});
    make_batches();
    return;
  }
  auto count = static_cast<std::uint32_t>(rec.spec.count);
  auto end = count - first > loop_batch ? first + static_cast<std::uint32_t>(loop_batch) : count;
  if (t->instances.size() < end)
    t->instances.resize(end);
  {
    scheduler::burst burst; // a pool's instances wake the scheduler's threads in batches
    auto self = caf::actor_cast<caf::actor>(this);
    auto now = clock::now();
    for (auto i = first; i < end; ++i)
      start_instance(*t, i, self, now);
  }
  if (end < count) {
    send(caf::actor_cast<caf::actor>(this), spawn_more_atom::value, t->record, end);
    return;
  }
  LB_LOG(debug, "loop",
         "spawned " << rec.spec.name << " (" << rec.kind->name << " x" << rec.spec.count << ")");
}

void event_loop::make_batches() {
  auto most =
      make_batches_per_thread * std::max<std::size_t>(system().scheduler().num_workers(), 1);
  while (batches_out_ < most && !to_make_.empty()) {
    auto batch = caf::make_counted<instance_batch>(caf::actor_cast<caf::actor>(this), core_);
    batch->tokens.reserve(make_batch);
    batch->segments.reserve(std::min<std::size_t>(make_batch, to_make_.size()));
    std::uint32_t n = 0;
    while (n < make_batch && !to_make_.empty()) {
      auto& next = to_make_.front();
      auto* t = slot_of(*next.record);
      if (!t || !still_wanted(*t)) {
        to_make_.pop_front();
        continue;
      }
      auto count = static_cast<std::uint32_t>(next.record->spec.count);
      auto end = std::min(count, next.next + (make_batch - n));
      if (t->instances.size() < end)
        t->instances.resize(end);
      for (auto i = next.next; i < end; ++i)
        batch->tokens.push_back(begin_incarnation(*t, i));
      batch->segments.push_back({next.record, t->lane, next.next, end - next.next});
      n += end - next.next;
      if (end == count) {
        LB_LOG(debug, "loop",
               "spawning " << next.record->spec.name << " (" << next.record->kind->name << " x"
                           << count << ")");
        to_make_.pop_front();
      } else {
        next.next = end;
      }
    }
    if (n == 0)
      break;
    ++batches_out_;
    system().scheduler().enqueue(batch.release()); // its reference goes to the scheduler
  }
}

bool event_loop::still_wanted(const actor_slot& t) const {
  if (t.state == phase::serving && !stopping_)
    return true;
  // It stops, or waits for its turn in the runtime's shutdown: no more instances than it needs
  // to finish what it holds. One with none yet and requests to serve gets this batch.
  return t.state != phase::stopped && t.alive == 0 && (!t.queue.empty() || t.in_flight > 0);
}

void event_loop::on_made(instance_batch& batch) {
  --batches_out_;
  {
    scheduler::burst burst; // the instances wake the scheduler's threads in batches
    auto now = clock::now();
    std::size_t k = 0;
    for (auto& seg : batch.segments) {
      // Its instances count as alive, so their actor is still here (never retired).
      auto* t = slot_of(*seg.record);
      for (std::uint32_t n = 0; n < seg.count; ++n, ++k) {
        auto i = seg.first + n;
        auto* inst = t ? incarnation(seg.record->index, i, batch.tokens[k]) : nullptr;
        if (!inst || inst->handle || t->state == phase::stopped || inst->failure)
          continue; // not launched: dropped with the batch, it reports its exit
        inst->handle = std::move(batch.made[k]);
        static_cast<worker_actor*>(caf::actor_cast<caf::abstract_actor*>(inst->handle))
            ->launch(context(), false, false);
        watch_start(*t, i, now);
      }
    }
  }
  batch.made.clear(); // those not launched end here: their exit reports come as messages
  make_batches();
}

void event_loop::watch_start(actor_slot& t, std::uint32_t i, time_point now) {
  auto limit = std::chrono::duration_cast<clock::duration>(t.record->spec.ready_timeout);
  starting_.watch(limit, now, t.record->index, i, t.instances[i].token);
  if (limit < time_point::max() - now && now + limit < armed_)
    arm_timer();
}

void event_loop::start_instance(actor_slot& t, std::uint32_t i, const caf::actor& self,
                                time_point now) {
  auto token = begin_incarnation(t, i);
  auto& inst = t.instances[i];
  inst.doorbell =
      // A node's actor is woken as a scheduled one: its instances here only send and receive.
      t.record->mode != execution::scheduled && t.record->spec.node.empty()
          ? std::make_shared<thread_doorbell>()
          : nullptr;
  t.lane->set_doorbell(i, inst.doorbell);
  inst.handle = spawn<worker_actor>(t.record, i, token, self, core_, t.lane, inst.doorbell,
                                    t.record->spec.node.empty() ? nullptr : thread_);
  watch_start(t, i, now);
}

std::uint32_t event_loop::begin_incarnation(actor_slot& t, std::uint32_t i) {
  auto& inst = t.instances[i];
  inst.token = next_token(inst.token, i);
  inst.doorbell = nullptr;
  inst.failure.reset();
  inst.ready = false;
  inst.alive = true;
  t.lane->reset_start(i);
  ++t.alive;
  ++instances_alive_;
  return inst.token;
}

event_loop::actor_slot* event_loop::slot_of(const actor_record& rec) const {
  auto* t = rec.index < slots_.size() ? slots_[rec.index].get() : nullptr;
  return t && t->record.get() == &rec ? t : nullptr;
}

event_loop::instance_slot* event_loop::incarnation(std::uint32_t ti, std::uint32_t i,
                                                   std::uint32_t token) {
  if (ti >= slots_.size() || !slots_[ti] || i >= slots_[ti]->instances.size())
    return nullptr; // its target was retired (tokens are unique: a reused index never matches)
  auto& inst = slots_[ti]->instances[i];
  return inst.alive && inst.token == token ? &inst : nullptr;
}

void event_loop::on_ready(std::uint32_t ti, std::uint32_t i, std::uint32_t token, value info) {
  auto* found = incarnation(ti, i, token);
  if (!found || found->ready)
    return;
  auto& t = *slots_[ti];
  auto& inst = *found;
  inst.ready = true;
  starting_.prune([this](auto& e) { return still_starting(e); });
  ++t.ready;
  t.ever_ready = true;
  update_prompt(t); // may open its lane to submitters
  LB_LOG(debug, "loop", instance_label(*t.record, i) << " ready");
  if (i == 0)
    std::atomic_store(&t.record->ready_info,
                      info.is_null() ? nullptr : std::make_shared<const value>(info));
  if (core_->wants(event_type::ready))
    core_->publish(ready_event{t.record->spec.name, i, std::move(info)});
  pump(t);
}

void event_loop::take_readies(std::size_t budget) {
  if (bulk_->readies.handle(budget, [this](const report_list::report& r) {
        on_ready(r.target, r.instance, r.token, value{});
      }))
    send(caf::actor_cast<caf::actor>(this), ready_atom::value);
}

void event_loop::on_start_failed(std::uint32_t ti, std::uint32_t i, std::uint32_t token,
                                 error reason) {
  auto* found = incarnation(ti, i, token);
  if (!found)
    return;
  auto& t = *slots_[ti];
  auto& inst = *found;
  LB_LOG(warning, "loop", "start of " << instance_label(*t.record, i) << " failed: " << reason);
  if (core_->wants(event_type::start_failed))
    core_->publish(start_failed_event{t.record->spec.name, i, reason});
  // The instance terminates next; its down message does the cleanup with this reason.
  inst.failure = std::make_unique<error>(std::move(reason));
  if (inst.ready)
    --t.ready;
  inst.ready = false;
}

void event_loop::on_ready_timeout(std::uint32_t ti, std::uint32_t i, std::uint32_t token) {
  auto* found = incarnation(ti, i, token);
  if (!found || found->ready || found->failure)
    return;
  auto& t = *slots_[ti];
  auto& inst = *found;
  error reason{errc::start_failed, instance_label(*t.record, i) + " was not ready within " +
                                       format_duration(t.record->spec.ready_timeout)};
  on_start_failed(ti, i, token, reason);
  send_exit(inst.handle, caf::exit_reason::kill);
}

void event_loop::on_route(const record_ptr& from, const record_ptr& to) {
  // Routes name live actors, and a target with a route is never retired; one-shot actors
  // (the only ones retired while their name is current) take no routes.
  for (auto* rec : {&from, &to})
    if (!slot_of(**rec) && !(*rec)->stopped.load(std::memory_order_acquire))
      on_spawn(*rec); // committed, not created yet
  auto* f = slot_of(*from);
  auto* t = slot_of(*to);
  if (!f || !t)
    return;
  f->route_to = to->index;
  t->upstream.push_back(from->index);
  update_prompt(*f);
  update_prompt(*t);
}

} // namespace loopbridge::detail
