// Submission from any thread: stamping a request, admitting it, handing it to the loop, and
// cancelling it.
#include "runtime_core.hpp"

#include <algorithm>

#include "bridge/round_trip.hpp"
#include "loop/request_lane.hpp"
#include "registry/admission.hpp"
#include "tuning.hpp"

namespace loopbridge::detail {

void runtime_core::submit(request_ref st, clock::duration timeout) noexcept {
  stamp(*st, timeout);
  enqueue(std::move(st));
}

void runtime_core::stamp(request_state& st, clock::duration timeout) noexcept {
  st.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto now = clock::now();
  st.submitted = now;
  auto budget = timeout > clock::duration::zero()
                    ? timeout
                    : std::chrono::duration_cast<clock::duration>(options_.default_deadline);
  st.deadline = budget >= time_point::max() - now ? time_point::max() : now + budget;
  // A request submitted while handling another inherits what is left of that one's deadline.
  st.deadline = std::min(st.deadline, current_request_deadline());
  st.context = context::current();
}

void runtime_core::enqueue(request_ref st) noexcept {
  if (st->target->spec.mailbox.overflow == overflow_policy::block) {
    if (blocking_forbidden()) {
      // A runtime thread (a handler) never waits for room: without a place now, the request
      // waits in the loop for one until its deadline (`place::awaiting_room`).
      st->admitted = try_admit(*st->target);
    } else if (auto room = admit(*st->target, st->deadline); !room) {
      st->fail(std::move(room).error());
      st->mark_settled();
      return;
    } else {
      st->admitted = true;
    }
  }
  gate_pass pass{submit_gate_};
  if (!pass) {
    if (st->admitted) {
      st->admitted = false;
      release_places(*st->target, 1);
    }
    st->fail(error{errc::stopped, "the runtime is stopped"});
    st->mark_settled();
    return;
  }
  if (submit_direct(st))
    return;
  if (st->target->direct_capable) {
    st->via_loop = true;
    st->target->loop_pending.fetch_add(1, std::memory_order_seq_cst);
  }
  if (loop_inbox_->push(st.detach()))
    caf::anon_send(loop_, drain_atom::value);
}

bool runtime_core::submit_direct(request_ref& st) noexcept {
  auto& round_trip = round_trip_next();
  if (!round_trip)
    return false; // a burst: the loop's batches serve it better
  round_trip = false;
  auto& rec = *st->target;
  auto* lane = rec.direct_lane.load(std::memory_order_acquire);
  // Only with a place in its capacity (a handler's request to a full actor waits in the loop),
  // not for pipeline stages (the loop routes them), not while requests of this actor are on
  // their way through the loop (they go first), and only with a deadline the loop learns of
  // in time (its note is taken within `report_delay`).
  if (!lane || !st->admitted || st->parent ||
      rec.loop_pending.load(std::memory_order_seq_cst) != 0 ||
      st->deadline - clock::now() < direct_margin)
    return false;
  st->direct = true;
  // Counted before it can end, so that no snapshot shows it done and not received.
  actor_counters::count_received(rec.counters);
  direct_wake instance;
  auto added = lane->push_direct(st.get(), *notes_, instance);
  if (added == direct_notes::added::refused) {
    rec.counters.received.fetch_sub(1, std::memory_order_relaxed);
    st->direct = false;
    return false;
  }
  (void)st.detach(); // the note's, now the loop's
  if (instance.door)
    instance.door->ring(); // straight to the instance's thread, as the loop's `nudge` does
  else if (instance.actor)
    caf::anon_send(instance.actor, drain_atom::value);
  if (added == direct_notes::added::wake)
    caf::anon_send(loop_, drain_atom::value);
  return true;
}

bool runtime_core::cancel(request_ref st) noexcept {
  return cancel(std::move(st), error{errc::cancelled, "cancelled by the host"});
}

bool runtime_core::cancel(request_ref st, error why) noexcept {
  // Record the outcome before raising the token: a worker that sees the token may fail the
  // request itself, and its error must not win over the host's cancel.
  if (!st->fail(std::move(why)))
    return false; // it completed first
  st->request_cancel();
  send_to_loop(cancel_atom::value, std::move(st));
  return true;
}

} // namespace loopbridge::detail
