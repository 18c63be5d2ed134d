// Submission from any thread: stamping a request, admitting it, handing it to the loop, and
// cancelling it.
#include "runtime_core.hpp"

#include <algorithm>

#include "registry/admission.hpp"

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
  if (loop_inbox_->push(st.detach()))
    caf::anon_send(loop_, drain_atom::value);
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
