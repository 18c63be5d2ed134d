// Stopping one actor on request: the stop travels to the loop as a request with a deadline.
#include "runtime_core.hpp"

#include "loopbridge/detail/stop_request.hpp"

namespace loopbridge::detail {

future<stopped_event> runtime_core::stop_actor(std::string_view name,
                                               std::chrono::nanoseconds timeout) {
  auto st = make_ref<typed_request_state<stop_request>>(stop_request{});
  ref_ptr<reply_state<stopped_event>> typed = st;
  future<stopped_event> f{typed, shared_from_this()};
  auto rec = find(name, nullptr, {});
  if (!rec) {
    st->fail(rec.error());
    st->mark_settled();
    return f;
  }
  st->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  st->target = rec->get();
  st->deadline = clock::now() + timeout;
  // The record travels along: the loop may have retired the actor by the time this arrives.
  if (!send_to_loop(stop_actor_atom::value, request_ref{st}, *rec)) {
    // The runtime already stopped: answer with the stop of the name's latest actor, if the
    // loop recorded one (it writes `last_stop` before setting `stopped`).
    auto& found = **rec;
    if (found.stopped.load(std::memory_order_acquire) &&
        st->try_claim(request_state::outcome::completed)) {
      st->reply.emplace(found.stop_report());
      st->publish();
    } else {
      st->fail(error{errc::stopped, "the runtime is stopped"});
    }
    st->mark_settled();
  }
  return f;
}

} // namespace loopbridge::detail
