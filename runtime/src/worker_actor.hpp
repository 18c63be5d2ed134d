#pragma once

#include <memory>

#include "caf_types.hpp"

namespace loopbridge::detail {

class runtime_core;
class instance_host;

/// One instance of a named actor: a scheduled CAF actor that receives requests from the event
/// loop and hands them to the kind's worker object.
///
/// For `execution::scheduled` kinds the worker runs inside this actor's handlers. For
/// `execution::dedicated_thread` kinds the worker lives on a thread of its own (registered with
/// the runtime's thread registry) and this actor feeds that thread's queue, so a blocking
/// handler never occupies a scheduler thread and a stuck one cannot stall shutdown.
///
/// Protocol: `(handle_atom, request_ref)` from the loop; `(cancel_atom, request_ref)`;
/// `(task_atom, task_box)` for timers and posted tasks; `(crash_atom, error)` to fail on
/// purpose. Sends `ready_atom` / `start_failed_atom` and one `finished_atom` per request to
/// the loop.
class worker_actor : public caf::event_based_actor {
public:
  worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance, caf::actor loop,
               std::shared_ptr<runtime_core> core);
  ~worker_actor() override;
  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.worker"; }

  /// The worker actor whose handler runs on the calling thread, or nullptr.
  static worker_actor* current() noexcept;
  /// Reports `st` finished to the loop from inside this actor's handler (local enqueue).
  void send_finished(request_ref st);

private:
  friend class scheduled_host;
  std::shared_ptr<instance_host> host_;
  caf::actor loop_;
};

/// The completion sink shared by all workers of a runtime: on a worker's own thread it reports
/// through that worker (cheapest path); elsewhere through the runtime's guarded send.
ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core);

} // namespace loopbridge::detail
