#pragma once

// The messages the event loop and the worker instances exchange. Internal: only runtime/src
// includes CAF. Requests travel as `request_ref` (a pointer to the shared request state), so CAF
// never copies a request or a reply; these pointer types are local-only by design.

#include <caf/all.hpp>

#include "loopbridge/detail/actor_record.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/detail/unique_function.hpp"

namespace loopbridge::detail {

/// A closure to run on an actor (timers, tasks posted from other threads).
struct task_box {
  std::shared_ptr<unique_function> fn;
};

using record_ptr = std::shared_ptr<const actor_record>;

// host -> loop
using cancel_atom = caf::atom_constant<caf::atom("lb_cancel")>;
/// Records were committed (`runtime_core::take_spawns`): sent by the commit that finds the
/// queue empty, and by the loop to itself while some are left.
using spawn_atom = caf::atom_constant<caf::atom("lb_spawn")>;
/// Stop the whole runtime: `(stop_atom, deadline_ns)` (steady clock, since epoch).
using stop_atom = caf::atom_constant<caf::atom("lb_stop")>;
/// Stop one actor: `(stop_actor_atom, request_ref, record_ptr)`, the request being a
/// `stop_request` (the record travels along: the loop may have retired the actor meanwhile).
using stop_actor_atom = caf::atom_constant<caf::atom("lb_stopact")>;
/// Fault injection: `(kill_atom, record_ptr, instance)` kills one instance.
using kill_atom = caf::atom_constant<caf::atom("lb_kill")>;
/// `(route_atom, record_ptr from, record_ptr to)`: replies of a pipeline stage at `from` go on
/// to `to`.
using route_atom = caf::atom_constant<caf::atom("lb_route")>;
// anyone -> loop, loop -> worker: "your request inbox has work" (see request_inbox)
using drain_atom = caf::atom_constant<caf::atom("lb_drain")>;
// worker -> loop
/// An instance is ready: `(ready_atom, target, instance, token[, info])`, or `(ready_atom)`
/// alone for those waiting in the loop's `bulk_reports::readies` (the first one into an empty
/// list sends it).
using ready_atom = caf::atom_constant<caf::atom("lb_ready")>;
/// `(instance_down_atom, target index, instance, token, exit reason)`: sent for each instance
/// as it exits (`instance_host::report_exit`).
using instance_down_atom = caf::atom_constant<caf::atom("lb_instdn")>;
using start_failed_atom = caf::atom_constant<caf::atom("lb_sfail")>;
/// Exits of instances of stopped actors wait in the loop's `bulk_reports::exits` (the first one
/// into an empty list sends this).
using exits_atom = caf::atom_constant<caf::atom("lb_exits")>;
/// `(made_atom, batch_ptr)`: a scheduler thread made a batch of instances' actors for the loop
/// to launch (see `instance_batch`).
using made_atom = caf::atom_constant<caf::atom("lb_made")>;
/// The shutdown is done: the loop frees the actors' slots, a batch per message, then quits.
using end_atom = caf::atom_constant<caf::atom("lb_end")>;
// actor -> itself
/// `(spawn_more_atom, record_ptr, first instance)`: the loop starts the next batch of a pool
/// of dedicated, own-thread or node instances (scheduled ones are made in `instance_batch`es).
using spawn_more_atom = caf::atom_constant<caf::atom("lb_spawnmo")>;
/// `(exit_more_atom, record_ptr, first instance)`: the loop tells the next batch of a stopped
/// pool's instances to exit.
using exit_more_atom = caf::atom_constant<caf::atom("lb_exitmo")>;
/// The loop stops the next batch of actors during the runtime's shutdown.
using shutdown_more_atom = caf::atom_constant<caf::atom("lb_shutmo")>;
using tick_atom = caf::atom_constant<caf::atom("lb_tick")>;
using task_atom = caf::atom_constant<caf::atom("lb_task")>;
/// Continuations are due in the instance's `continuation_inbox`: it runs what waits there.
using continue_atom = caf::atom_constant<caf::atom("lb_cont")>;
/// `(pump_atom, target index)`: an instance suspended a request of a starved actor; the loop
/// hands out more of what waits in its queue.
using pump_atom = caf::atom_constant<caf::atom("lb_pump")>;
using crash_atom = caf::atom_constant<caf::atom("lb_crash")>;

} // namespace loopbridge::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(loopbridge::detail::request_ref)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(loopbridge::detail::record_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(loopbridge::detail::task_box)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(loopbridge::error)

namespace loopbridge::detail {

/// Wraps a loopbridge error as a CAF exit reason (the text survives in the error's context).
inline caf::error to_exit_reason(const error& e) {
  return caf::make_error(caf::sec::runtime_error, e.to_string());
}

/// The text of an exit reason made by `to_exit_reason`, or CAF's rendering of any other.
inline std::string describe_exit_reason(const caf::error& reason) {
  if (!reason)
    return "normal exit";
  auto& ctx = reason.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return caf::to_string(reason);
}

} // namespace loopbridge::detail
