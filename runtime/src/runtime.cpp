#include "loopbridge/runtime.hpp"

#include <algorithm>
#include <pthread.h>

#include "loopbridge/detail/spin_policy.hpp"

#include "event_loop.hpp"
#include "runtime_core.hpp"
#include "worker_actor.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge {

namespace detail {

void mark_scheduler_thread() noexcept;

namespace {

/// Gives CAF's threads readable names (`lb.sched.N`, `lb.clock`) and marks them as threads on
/// which host-style blocking calls must fail instead of stalling the scheduler.
class thread_namer final : public caf::thread_hook {
public:
  void init(caf::actor_system&) override {}
  void thread_started() override {
    char current[16] = {};
    pthread_getname_np(pthread_self(), current, sizeof(current));
    std::string_view name{current};
    if (name == "caf.multiplexer")
      log::name_thread("lb.sched." + std::to_string(next_.fetch_add(1)));
    else if (name == "caf.clock")
      log::name_thread("lb.clock");
    mark_scheduler_thread();
  }
  void thread_terminates() override {}

private:
  std::atomic<int> next_{0};
};

} // namespace

runtime_core::runtime_core(kind_registry kinds, runtime_options options)
    : kinds_(std::move(kinds)),
      options_(options) {}

runtime_core::~runtime_core() {
  stop();
}

void runtime_core::start() {
  config_ = std::make_unique<caf::actor_system_config>();
  if (options_.scheduler_threads > 0)
    config_->set("scheduler.max-threads", options_.scheduler_threads);
  config_->add_thread_hook<thread_namer>();
  system_ = std::make_unique<caf::actor_system>(*config_);
  sink_ = make_loop_sink(weak_from_this(), loop_inbox_);
  loop_thread_ = std::make_unique<loop_thread>(*system_);
  // Spawned lazily: it stays blocked until its first message, which hands it to its thread.
  loop_ = system_->spawn<event_loop, caf::lazy_init>(shared_from_this(), loop_thread_.get(),
                                                     loop_inbox_);
  loop_->attach_functor([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> guard{self->loop_done_mutex_};
      self->loop_done_ = true;
      self->loop_done_cv_.notify_all();
    }
  });
  loop_thread_->start(static_cast<event_loop*>(caf::actor_cast<caf::abstract_actor*>(loop_)));
  LB_LOG(info, "runtime", "started");
}

void runtime_core::stop() {
  std::lock_guard<std::mutex> guard{stop_mutex_};
  if (stopped_)
    return;
  stopped_ = true;
  if (!system_)
    return;
  auto deadline = clock::now() + options_.shutdown_budget;
  // 1. No new submits; every submit already inside reaches the loop before `stop`.
  submit_gate_.close();
  send_to_loop(stop_atom::value);
  // 2. The loop resolves what is pending, stops every instance, then quits.
  bool loop_ended;
  {
    std::unique_lock<std::mutex> lock{loop_done_mutex_};
    loop_ended = loop_done_cv_.wait_until(lock, deadline, [&] { return loop_done_; });
  }
  // 3. Threads outside the scheduler: joined, or left behind and reported.
  auto stuck = threads_.join_all(deadline);
  // 4. Subscribers have every event by now; their inboxes report the end.
  {
    std::lock_guard<std::mutex> lock{subscribers_mutex_};
    for (auto& ch : subscribers_)
      ch->close();
    subscribers_.clear();
  }
  // 5. The actor system goes; nothing may send into it any more.
  system_gate_.close();
  loop_ = nullptr;
  if (loop_ended) {
    loop_thread_->join();
    loop_thread_.reset();
    system_.reset();
    config_.reset();
  } else {
    LB_LOG(error, "runtime",
           "the event loop did not stop within the shutdown budget; "
           "leaving the actor system behind");
    (void)loop_thread_.release();
    (void)system_.release();
    (void)config_.release();
  }
  LB_LOG(info, "runtime", "stopped");
}

void runtime_core::submit(request_ref st, clock::duration timeout) noexcept {
  st->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto now = clock::now();
  auto budget = timeout > clock::duration::zero()
                    ? timeout
                    : std::chrono::duration_cast<clock::duration>(options_.default_deadline);
  st->deadline = budget >= time_point::max() - now ? time_point::max() : now + budget;
  // A request submitted while handling another inherits what is left of that one's deadline.
  st->deadline = std::min(st->deadline, current_request_deadline());
  st->context = context::current();
  gate_pass pass{submit_gate_};
  if (!pass) {
    st->fail(error{errc::stopped, "the runtime is stopped"});
    st->mark_settled();
    return;
  }
  if (loop_inbox_->push(st.detach()))
    caf::anon_send(loop_, drain_atom::value);
}

bool runtime_core::cancel(request_ref st) noexcept {
  st->request_cancel();
  if (!st->fail(error{errc::cancelled, "cancelled by the host"}))
    return false; // it completed first
  send_to_loop(cancel_atom::value, std::move(st));
  return true;
}

result<void> runtime_core::spawn(actor_spec spec) {
  if (!submit_gate_.is_open())
    return error{errc::stopped, "the runtime is stopped"};
  if (spec.name.empty())
    return error{errc::bad_request, "an actor needs a name"};
  auto* kind = kinds_.find(spec.kind);
  if (!kind) {
    std::string msg = "unknown kind '" + spec.kind + "'";
    auto guess = closest_match(spec.kind, kinds_.names());
    if (!guess.empty())
      msg += " (did you mean '" + guess + "'?)";
    return error{errc::not_found, msg};
  }
  if (spec.count == 0)
    return error{errc::bad_request, "actor '" + spec.name + "': count must be at least 1"};
  auto rec = std::make_shared<actor_record>();
  auto problems = resolve_params(kind->params, spec.params, rec->params);
  if (!problems.empty()) {
    std::string msg = "actor '" + spec.name + "': ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      if (i > 0)
        msg += "; ";
      msg += "params." + problems[i].path + ": " + problems[i].message;
      if (!problems[i].hint.empty())
        msg += " (" + problems[i].hint + ")";
    }
    return error{errc::bad_request, msg};
  }
  try {
    rec->mode = kind->mode(rec->params);
  } catch (const std::exception& e) {
    return error{errc::bad_request, "actor '" + spec.name + "': " + e.what()};
  }
  rec->kind = kind;
  rec->capacity = spec.mailbox.capacity > 0 ? spec.mailbox.capacity : options_.default_capacity;
  rec->spec = std::move(spec);
  std::lock_guard<std::mutex> guard{records_mutex_};
  if (records_.count(rec->spec.name))
    return error{errc::bad_request, "an actor named '" + rec->spec.name + "' already exists"};
  rec->index = next_index_++;
  records_.emplace(rec->spec.name, rec);
  // Sent under the lock: whoever finds the record afterwards submits behind this message.
  if (!send_to_loop(spawn_atom::value, record_ptr{rec}))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

event_inbox runtime_core::subscribe(subscription s) {
  auto channel = std::make_shared<event_channel>(std::move(s));
  std::lock_guard<std::mutex> guard{subscribers_mutex_};
  if (stopped_ && !system_)
    channel->close();
  else
    subscribers_.push_back(channel);
  wanted_types_.fetch_or(channel->type_mask(), std::memory_order_acq_rel);
  return event_inbox{std::move(channel)};
}

void runtime_core::publish(const event& e) {
  auto type = type_of(e);
  std::lock_guard<std::mutex> guard{subscribers_mutex_};
  bool pruned = false;
  for (auto& ch : subscribers_) {
    if (ch->closed()) {
      pruned = true;
      continue;
    }
    if (ch->wants(type, actor_of(e)))
      ch->offer(e);
  }
  if (pruned) {
    subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                      [](auto& ch) { return ch->closed(); }),
                       subscribers_.end());
    unsigned mask = 0;
    for (auto& ch : subscribers_)
      mask |= ch->type_mask();
    wanted_types_.store(mask, std::memory_order_release);
  }
}

result<record_ptr> runtime_core::find(std::string_view name, const type_tag* kind,
                                      std::string_view kind_name) const {
  std::lock_guard<std::mutex> guard{records_mutex_};
  auto it = records_.find(name);
  if (it == records_.end()) {
    std::vector<std::string> names;
    for (auto& [n, _] : records_)
      names.push_back(n);
    std::string msg = "no actor named '" + std::string{name} + "'";
    auto guess = closest_match(name, names);
    if (!guess.empty())
      msg += " (did you mean '" + guess + "'?)";
    return error{errc::not_found, msg};
  }
  if (kind && it->second->kind->tag != kind)
    return error{errc::wrong_kind, "actor '" + std::string{name} + "' is of kind '" +
                                       it->second->kind->name + "', not '" +
                                       std::string{kind_name} + "'"};
  return it->second;
}

} // namespace detail

// -- runtime --------------------------------------------------------------------------------------

runtime::runtime(kind_registry kinds, runtime_options options) {
  log::set_level_default(options.log);
  detail::spin_policy::set(options.loop_spin, options.host_spin);
  core_ = std::make_shared<detail::runtime_core>(std::move(kinds), options);
  core_->start();
}

runtime::~runtime() {
  if (core_)
    core_->stop();
}

result<void> runtime::spawn(actor_spec spec) {
  return core_->spawn(std::move(spec));
}

result<void> runtime::spawn(std::string name, std::string kind, value params) {
  actor_spec spec;
  spec.name = std::move(name);
  spec.kind = std::move(kind);
  spec.params = std::move(params);
  return spawn(std::move(spec));
}

void runtime::stop() {
  core_->stop();
}

event_inbox runtime::subscribe(subscription s) {
  return core_->subscribe(std::move(s));
}

const runtime_options& runtime::options() const noexcept {
  return core_->options();
}

result<std::shared_ptr<const detail::actor_record>>
runtime::find(std::string_view name, const detail::type_tag* kind,
              std::string_view kind_name) const {
  return core_->find(name, kind, kind_name);
}

std::shared_ptr<detail::bridge> runtime::bridge() const {
  return core_;
}

} // namespace loopbridge
