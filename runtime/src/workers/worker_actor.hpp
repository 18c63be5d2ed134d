#pragma once

// One instance of a named actor, and the hosts its worker runs on.

#include <memory>

#include "loopbridge/detail/completion_sink.hpp"

#include "loop/caf_types.hpp"
#include "loop/request_inbox.hpp"
#include "loop/request_lane.hpp"
#include "loop/thread_doorbell.hpp"

namespace loopbridge::detail {

class runtime_core;
class instance_host;
class loop_thread;

/// One instance of a named actor: a scheduled CAF actor that stands for the instance in CAF
/// (monitoring, exit, timers, tasks) and hosts the kind's worker object.
///
/// Instances take their requests from their actor's `request_lane`, each when it is free:
/// - `execution::scheduled`: the worker runs inside this actor's handlers, on the scheduler's
///   threads. The loop wakes an idle instance with `drain_atom`; it then takes up to a turn's
///   worth of requests from the lane and yields its thread to others.
/// - `execution::dedicated_thread`: the worker lives on a thread of its own (registered with
///   the runtime's thread registry), so a blocking handler never occupies a scheduler thread and
///   a stuck one cannot stall shutdown. That thread takes requests from the lane itself, woken
///   by the loop through the instance's `thread_doorbell`; this actor forwards cancels and tasks
///   to it.
/// - `execution::own_thread`: the worker serves requests on a thread it owns, through a
///   `request_intake`; the loop rings the instance's doorbell, which calls the worker's wake-up.
/// - an actor placed on another node (`actor_spec::node`), whatever its execution: no worker
///   here; `node_host` sends the requests to the node's gateway and completes them with its
///   answers. Such an instance is a guest of the loop thread (`loop_thread::host`): the
///   requests the loop hands it leave in the loop's turn, and its reports reach the loop
///   without a wake-up.
///
/// Protocol: `drain_atom`; `(cancel_atom, request_ref)`; `(task_atom, task_box)` for timers and
/// posted tasks; `continue_atom` when continuations wait in the host's continuation inbox;
/// `(crash_atom, error)` to fail on purpose. Sends `ready_atom` /
/// `start_failed_atom` to the loop, reports each request done through the loop's inbox, and
/// its own end as CAF cleans it up (`instance_host::report_exit`).
class worker_actor : public caf::event_based_actor {
public:
  /// `loop_host`: the loop thread, for an instance of an actor placed on another node (it runs
  /// there from its first message on); else null.
  worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance, std::uint32_t token,
               caf::actor loop, std::shared_ptr<runtime_core> core,
               std::shared_ptr<request_lane> lane, std::shared_ptr<thread_doorbell> doorbell,
               loop_thread* loop_host = nullptr);
  ~worker_actor() override;
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  /// Runs CAF's `resume` with this instance as `current()`: its handlers, its start and its
  /// exit see it there.
  resume_result resume(caf::execution_unit* unit, std::size_t max_messages) override;
  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.worker"; }

  /// The worker actor whose handler runs on the calling thread, or nullptr.
  static worker_actor* current() noexcept;
  /// Wakes the loop from inside this actor's `resume` (a local enqueue); false once the
  /// instance has exited (the caller then wakes it another way).
  bool wake_loop();

protected:
  /// Reports its end to the loop (`instance_host::report_exit`), as CAF cleans it up: after
  /// `on_exit` when it ran, or when it is dropped before it was launched.
  void on_cleanup(const caf::error& reason) override;

private:
  /// The protocol above, one behavior shared by every instance.
  static const caf::behavior& protocol();

  friend class scheduled_host;
  friend class node_host;

  std::shared_ptr<instance_host> host_;
  caf::actor loop_;
  loop_thread* loop_host_;
};

/// Makes a worker actor as `caf::make_actor` would (not launched: the caller launches it), in
/// a block of the runtime's object pool instead of `operator new`: most of a scheduled
/// instance's memory. Laid out as CAF lays out every actor (its control block, then the actor
/// one cache line further, see `caf::actor_control_block`), and freed through the control
/// block's destructors, so CAF handles it like any other actor. Any thread.
caf::actor make_worker(caf::actor_system& sys, caf::actor_config& cfg, record_ptr rec,
                       std::uint32_t instance, std::uint32_t token, caf::actor loop,
                       std::shared_ptr<runtime_core> core, std::shared_ptr<request_lane> lane);

/// The completion sink shared by all workers of a runtime: pushes done requests into the
/// loop's inbox and, when that wakes the loop, sends the wake message through the worker whose
/// handler is running (cheapest path) or through the runtime's guarded send.
ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core,
                                        std::shared_ptr<request_inbox> loop_inbox);

} // namespace loopbridge::detail
