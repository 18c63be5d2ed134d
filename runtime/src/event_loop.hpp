#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "caf_types.hpp"
#include "deadline_index.hpp"
#include "request_inbox.hpp"
#include "request_queue.hpp"

namespace loopbridge::detail {

class runtime_core;
class loop_thread;

/// The event-loop actor: the hub between host threads and worker instances.
///
/// Requests reach it through its request inbox (host submits and workers' finished reports,
/// woken by one `drain_atom` message per batch); control (spawn, cancel, ready, down, stop)
/// arrives as plain messages. It accepts submitted requests, queues them per target actor, hands
/// each to the least-loaded ready instance (never more than the instance's in-flight limit), tracks
/// deadlines in one `deadline_index`, forwards cancels, and returns credit when workers report a
/// request finished. It never blocks and never waits for a reply: every exchange is a plain send
/// with the request state as correlation, so 100k requests in flight cost no more per request than
/// one.
///
/// Invariants: every request the loop accepted is in exactly one place (a target's queue or an
/// instance's in-flight list) until it is finished, and the loop holds one reference to it
/// meanwhile. When the loop stops, every such request is resolved (`loop.stopped`) first.
class event_loop : public caf::event_based_actor {
public:
  event_loop(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, loop_thread* thread,
             std::shared_ptr<request_inbox> inbox);
  caf::behavior make_behavior() override;
  /// Hands the loop to its own thread instead of the scheduler (see loop_thread).
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.event_loop"; }

private:
  struct instance_slot {
    caf::actor handle;
    std::shared_ptr<request_inbox> inbox; ///< the instance's request inbox
    std::uint32_t token = 0;              ///< ownership token of this incarnation
    request_queue held;                   ///< dispatched, not yet finished
    error failure;                        ///< why it failed to start, if it did
    bool ready = false;
    bool alive = false;
  };
  struct target {
    record_ptr record;
    std::vector<instance_slot> instances;
    request_queue queue; ///< accepted, waiting for an instance
    std::uint32_t per_instance_limit = 1;
    std::uint32_t alive = 0;
    bool stopped = false;
    error stop_reason;
    std::uint64_t completed = 0; ///< requests whose worker reported them finished
    std::uint64_t cancelled = 0; ///< requests the loop resolved because of a stop or loss
  };

  void on_spawn(record_ptr rec);
  /// Takes what the inbox holds: new submissions and finished reports.
  void on_drain();
  /// A submitted request; takes over its reference.
  void on_submit(request_state* st);
  /// A worker finished `st`; takes over its reference.
  void on_finished(request_state* st);
  void on_cancel(request_ref& ref);
  void on_ready(std::uint32_t target_index, std::uint32_t instance);
  void on_start_failed(std::uint32_t target_index, std::uint32_t instance, error reason);
  void on_down(const caf::down_msg& msg);
  void on_tick();
  void on_stop();

  /// Hands queued requests of `t` to instances while any has room.
  void pump(target& t);
  void dispatch(target& t, std::uint32_t instance, request_state* st);
  /// Stops tracking `st` and drops the loop's reference.
  void untrack(target& t, request_state* st);
  /// Resolves every request `t` holds with `reason` and stops tracking them.
  void fail_all(target& t, const error& reason);
  /// The instance terminated: requests it never started go back to the queue, the one(s) it
  /// was running fail with `reason`.
  void instance_lost(target& t, std::uint32_t instance, const error& reason);
  std::uint32_t new_token() noexcept;
  void expire(request_state* st);
  void arm_timer();
  void maybe_quit();
  /// Marks `t` stopped with `reason` and announces it.
  void target_stopped(target& t, error reason);

  std::shared_ptr<runtime_core> core_;
  loop_thread* thread_;
  std::shared_ptr<request_inbox> inbox_;
  time_point now_{}; ///< taken once per drain: cheap timestamps for a batch
  std::vector<std::unique_ptr<target>> targets_;
  std::unordered_map<caf::actor_addr, std::pair<std::uint32_t, std::uint32_t>> by_addr_;
  deadline_index deadlines_;
  time_point armed_ = time_point::max();
  std::uint32_t next_token_ = 1;
  bool stopping_ = false;
};

} // namespace loopbridge::detail
