// The worker actor: one instance of a named actor in CAF, which makes the host its execution
// mode asks for; its storage in the object pool (`make_worker`); and the sink through which
// workers report requests done to the loop.
#include "workers/worker_actor.hpp"

#include "nodes/node_host.hpp"
#include "workers/dedicated_host.hpp"
#include "workers/scheduled_host.hpp"

#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "loop/loop_thread.hpp"
#include "memory/object_pool.hpp"
#include "registry/instance_label.hpp"
#include "runtime_core.hpp"
#include "scheduler/scheduler.hpp"
#include "scheduler/stall_detector.hpp"
#include "tuning.hpp"

#include "loopbridge/context.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

namespace {

thread_local worker_actor* tl_current = nullptr;

/// Marks the calling thread as running `w`'s handler for the scope.
class current_scope {
public:
  explicit current_scope(worker_actor* w) noexcept : previous_(tl_current) { tl_current = w; }
  ~current_scope() { tl_current = previous_; }
  current_scope(const current_scope&) = delete;
  current_scope& operator=(const current_scope&) = delete;

private:
  worker_actor* previous_;
};

class loop_sink final : public completion_sink {
public:
  loop_sink(std::weak_ptr<runtime_core> core, std::shared_ptr<request_inbox> inbox)
      : core_(std::move(core)),
        inbox_(std::move(inbox)) {}
  /// A report the loop needs now wakes it; any other waits for its next drain (a submission,
  /// a later report that wakes it, at most `request_inbox`'s quiet batch, or the loop thread's
  /// own return within `report_delay` before it sleeps for good). Needed now: a pipeline
  /// stage's (the next stage waits), a cancelled request's (a task group waits for its
  /// settlement), and any of an actor that asks for them (`actor_record::prompt_reports`) or
  /// whose `block` admission is half full or more (submitters may be waiting for the places it
  /// gives back).
  void done(request_ref st) noexcept override {
    auto seen = inbox_->epoch(); // before reading what the loop publishes
    bool quiet = !st->parent && !st->cancel_requested() && st->target &&
                 !st->target->prompt_reports.load(std::memory_order_seq_cst) &&
                 !half_full(*st->target);
    auto* raw = st.detach();
    if (!(quiet ? inbox_->push_quiet(raw, seen) : inbox_->push(raw)))
      return; // the loop is already awake for an earlier one, or will come for it
    if (auto* w = worker_actor::current(); w && w->wake_loop())
      return;
    if (auto core = core_.lock())
      core->send_to_loop(drain_atom::value);
  }

private:
  static bool half_full(const actor_record& rec) noexcept {
    if (rec.spec.mailbox.overflow != overflow_policy::block)
      return false;
    auto taken = rec.admission.occupancy.load(std::memory_order_acquire);
    return taken * 2 >= static_cast<std::int64_t>(rec.capacity);
  }

  std::weak_ptr<runtime_core> core_;
  std::shared_ptr<request_inbox> inbox_;
};

} // namespace

ref_ptr<completion_sink> make_loop_sink(std::weak_ptr<runtime_core> core,
                                        std::shared_ptr<request_inbox> loop_inbox) {
  return make_ref<loop_sink>(std::move(core), std::move(loop_inbox));
}

error failure_from(const request_state& st, error e) {
  if (!st.target || e.message().find(st.target->spec.name) != std::string::npos)
    return e;
  return error{error_code{e.domain(), e.code()}, st.target->spec.name + ": " + e.message()};
}

// -- worker_actor ---------------------------------------------------------------------------------

worker_actor::worker_actor(caf::actor_config& cfg, record_ptr rec, std::uint32_t instance,
                           std::uint32_t token, caf::actor loop, std::shared_ptr<runtime_core> core,
                           std::shared_ptr<request_lane> lane,
                           std::shared_ptr<thread_doorbell> doorbell, loop_thread* loop_host)
    : caf::event_based_actor(cfg),
      loop_(std::move(loop)),
      loop_host_(loop_host) {
  if (!rec->spec.node.empty()) {
    host_ = make_pooled<node_host>(this, std::move(rec), instance, token, std::move(core),
                                   std::move(lane));
    return;
  }
  switch (rec->mode) {
    case execution::dedicated_thread:
      host_ = make_pooled<dedicated_host>(std::move(rec), instance, token, std::move(core),
                                          address(), std::move(lane), std::move(doorbell));
      break;
    case execution::own_thread:
      host_ = make_pooled<own_thread_host>(this, std::move(rec), instance, token, std::move(core),
                                           std::move(lane), std::move(doorbell));
      break;
    case execution::scheduled:
      host_ = make_pooled<scheduled_host>(this, std::move(rec), instance, token, std::move(core),
                                          std::move(lane));
      break;
  }
}

worker_actor::~worker_actor() = default;

void worker_actor::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  if (loop_host_)
    enqueue_guest(*this, std::move(ptr), *loop_host_);
  else
    caf::event_based_actor::enqueue(std::move(ptr), eu);
}

namespace {

/// A worker actor and its CAF control block in one block of the object pool.
struct worker_block {
  caf::actor_control_block ctrl;
  char pad[CAF_CACHE_LINE_SIZE - sizeof(caf::actor_control_block)];
  union {
    worker_actor actor;
  };

  template <class... Ts>
  worker_block(caf::actor_system& sys, caf::node_id node, Ts&&... xs)
      : ctrl(sys.next_actor_id(), node, &sys, destroy_actor, free_block) {
    new (&actor) worker_actor(std::forward<Ts>(xs)...);
  }
  ~worker_block() {} // the actor is destroyed first, by `destroy_actor`

  /// The last strong reference is gone.
  static void destroy_actor(caf::abstract_actor* p) {
    p->on_destroy();
    static_cast<worker_actor*>(p)->~worker_actor();
  }
  /// The last weak reference is gone.
  static void free_block(caf::actor_control_block* c) {
    auto* b = reinterpret_cast<worker_block*>(c);
    b->~worker_block();
    object_pool_free(b, sizeof(worker_block));
  }
};

} // namespace

caf::actor make_worker(caf::actor_system& sys, caf::actor_config& cfg, record_ptr rec,
                       std::uint32_t instance, std::uint32_t token, caf::actor loop,
                       std::shared_ptr<runtime_core> core, std::shared_ptr<request_lane> lane) {
  // GCC warns that offsetof is conditionally supported on a type that is not standard-layout;
  // GCC supports it, and this is how CAF checks its own actor storage.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
  static_assert(offsetof(worker_block, ctrl) == 0 &&
                    offsetof(worker_block, actor) == CAF_CACHE_LINE_SIZE,
                "the layout `caf::actor_control_block::get` and `from` expect");
#pragma GCC diagnostic pop
  void* memory = object_pool_allocate(sizeof(worker_block));
  worker_block* block;
  try {
    block = new (memory)
        worker_block(sys, sys.node(), cfg, std::move(rec), instance, token, std::move(loop),
                     std::move(core), std::move(lane), std::shared_ptr<thread_doorbell>{});
  } catch (...) {
    object_pool_free(memory, sizeof(worker_block));
    throw;
  }
  return caf::actor{&block->ctrl, false};
}

worker_actor* worker_actor::current() noexcept {
  return tl_current;
}

bool worker_actor::wake_loop() {
  if (!loop_)
    return false; // exiting: CAF destroys what its mailbox still holds after `on_exit`
  send(loop_, drain_atom::value);
  return true;
}

caf::resumable::resume_result worker_actor::resume(caf::execution_unit* unit,
                                                   std::size_t max_messages) {
  current_scope scope{this};
  return caf::event_based_actor::resume(unit, max_messages);
}

caf::behavior worker_actor::make_behavior() {
  host_->start();
  return protocol();
}

const caf::behavior& worker_actor::protocol() {
  // The handlers capture nothing: they find their instance through `current()`, which `resume`
  // set. So one behavior serves every instance, instead of a copy per instance.
  static const caf::behavior shared{
      [](drain_atom) {
        if (auto& host = current()->host_)
          host->drain();
      },
      [](cancel_atom, request_ref& st) { current()->host_->cancel(std::move(st)); },
      [](task_atom, task_box& t) { current()->host_->run_task(t); },
      [](continue_atom) { current()->host_->run_continuations(); },
      [](crash_atom, error& reason) { current()->quit(to_exit_reason(reason)); },
      // An instance of an actor placed on another node (node_host).
      [](node_up_atom, caf::actor& gateway, const std::vector<char>& actors) {
        if (auto* n = dynamic_cast<node_host*>(current()->host_.get()))
          n->up(std::move(gateway), actors);
      },
      [](node_down_atom, const error& why) {
        if (auto* n = dynamic_cast<node_host*>(current()->host_.get()))
          n->down(why);
      },
      [](node_answers_atom, std::vector<node_answer>& batch) {
        if (auto* n = dynamic_cast<node_host*>(current()->host_.get()))
          n->answers(batch);
      },
      [](node_refused_atom, const std::string& why) {
        if (auto* n = dynamic_cast<node_host*>(current()->host_.get()))
          n->down(error{errc::node_refused, why});
      },
  };
  return shared;
}

void worker_actor::on_exit() {
  if (host_) {
    current_scope scope{this}; // also when CAF calls it outside `resume` (a system shutdown)
    host_->stop();
    host_->close_continuations();
  }
  loop_ = nullptr;
}

void worker_actor::on_cleanup(const caf::error& reason) {
  // Its exit names this incarnation: no map from actor addresses to instances to keep, and
  // no attachable per instance (a million of them for a million instances).
  if (host_)
    host_->report_exit(reason);
  caf::event_based_actor::on_cleanup(reason);
}

} // namespace loopbridge::detail
