#pragma once

#include <memory>

#include "caf_types.hpp"
#include "request_inbox.hpp"
#include "thread_doorbell.hpp"

namespace loopbridge::detail {

class runtime_core;
class instance_host;

/// One instance of a named actor: a scheduled CAF actor that receives requests from the event
/// loop and hands them to the kind's worker object.
///
/// For `execution::scheduled` kinds the worker runs inside this actor's handlers. For
/// `execution::dedicated_thread` kinds the worker lives on a thread of its own (registered with
/// the runtime's thread registry), so a blocking handler never occupies a scheduler thread and a
/// stuck one cannot stall shutdown. That thread takes requests from the instance's inbox
/// itself, woken by the loop through the instance's `thread_doorbell`; this actor forwards
/// cancels and tasks to it and stands for the instance in CAF (monitoring, exit).
///
/// Protocol: requests arrive in the instance's request inbox, announced by `drain_atom` (or,
/// for a dedicated thread, by its doorbell);
/// `(cancel_atom, request_ref)`; `(task_atom, task_box)` for timers and posted tasks;
/// `(crash_atom, error)` to fail on purpose. Sends `ready_atom` / `start_failed_atom` to the
/// loop, and reports each request finished through the loop's inbox.
class worker_actor : public caf::event_based_actor {
public:
  worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance, std::uint32_t token,
               caf::actor loop, std::shared_ptr<runtime_core> core,
               std::shared_ptr<request_inbox> inbox, std::shared_ptr<request_inbox> loop_inbox,
               std::shared_ptr<thread_doorbell> doorbell);
  ~worker_actor() override;
  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.worker"; }

  /// The worker actor whose handler runs on the calling thread, or nullptr.
  static worker_actor* current() noexcept;
  /// Wakes the loop from inside this actor's handler (a local enqueue).
  void wake_loop();

private:
  friend class scheduled_host;
  void drain();

  std::shared_ptr<instance_host> host_;
  std::shared_ptr<request_inbox> inbox_;
  /// For a dedicated-thread instance: its thread consumes `inbox_` and the loop rings this.
  std::shared_ptr<thread_doorbell> doorbell_;
  caf::actor loop_;
};

/// The completion sink shared by all workers of a runtime: pushes finished requests into the
/// loop's inbox and, when that wakes the loop, sends the wake message through the worker whose
/// handler is running (cheapest path) or through the runtime's guarded send.
ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core,
                                        std::shared_ptr<request_inbox> loop_inbox);

} // namespace loopbridge::detail
