// The runtime's core: building it and starting its actor system, event loop and loop thread.
#include "runtime_core.hpp"

#include <algorithm>
#include <thread>

#include <caf/logger.hpp>

#include "loop/event_loop.hpp"
#include "nodes/node_protocol.hpp"
#include "nodes/node_tls.hpp"
#include "scheduler/scheduler.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

runtime_core::runtime_core(kind_registry kinds, runtime_options options)
    : kinds_(std::move(kinds)),
      options_(options) {}

runtime_core::~runtime_core() {
  stop();
}

void runtime_core::start() {
  if (options_.slow_handler.count() > 0) {
    stalls_ = std::make_shared<stall_detector>(options_.slow_handler,
                                               [weak = weak_from_this()](const stall& s) {
                                                 if (auto self = weak.lock())
                                                   self->report_stall(s);
                                               });
    stalls_->start();
  }
  config_ = std::make_unique<caf::actor_system_config>();
  scheduler_settings sched;
  sched.threads = options_.scheduler_threads > 0
                      ? options_.scheduler_threads
                      : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  sched.spin = options_.loop_spin;
  sched.turn = scheduler_turn;
  sched.stalls = stalls_;
  scheduler::load(*config_, std::move(sched));
  if (options_.network) {
    app_id_ = node_app_id(kinds_);
    load_network(*config_, app_id_);
    if (options_.tls.enabled()) {
      tls_problem_ = tls_problem(options_.tls);
      if (tls_problem_.empty())
        load_tls(*config_, options_.tls);
    }
  }
  system_ = std::make_unique<caf::actor_system>(*config_);
  sink_ = make_loop_sink(weak_from_this(), reports_inbox_);
  loop_thread_ = std::make_unique<loop_thread>(*system_, stalls_);
  // Spawned lazily: it stays blocked until its first message, which hands it to its thread.
  loop_ = system_->spawn<event_loop, caf::lazy_init>(shared_from_this(), loop_thread_.get(),
                                                     loop_inbox_, reports_inbox_, notes_);
  loop_->attach_functor([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> guard{self->loop_done_mutex_};
      self->loop_done_ = true;
      self->loop_done_cv_.notify_all();
    }
  });
  loop_thread_->start(static_cast<event_loop*>(caf::actor_cast<caf::abstract_actor*>(loop_)),
                      reports_inbox_, notes_, [weak = weak_from_this()] {
                        if (auto self = weak.lock())
                          self->send_to_loop(drain_atom::value);
                      });
  // Building an actor system leaves a reference to its logger in this thread's thread-local
  // storage, and the system's destructor waits for every such reference to go. Drop this one,
  // so `stop()` may run on any thread, not only on the one that built the runtime.
  caf::logger::set_current_actor_system(nullptr);
  LB_LOG(info, "runtime", "started");
}

} // namespace loopbridge::detail
