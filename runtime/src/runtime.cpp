#include "loopbridge/runtime.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <pthread.h>

#include <caf/logger.hpp>

#include "loopbridge/detail/spin_policy.hpp"
#include "loopbridge/graph.hpp"

#include "loop/event_loop.hpp"
#include "registry/admission.hpp"
#include "runtime_core.hpp"
#include "scheduler/scheduler.hpp"
#include "tuning.hpp"
#include "workers/worker_actor.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge {

namespace detail {

void mark_scheduler_thread() noexcept;

namespace {} // namespace

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
  system_ = std::make_unique<caf::actor_system>(*config_);
  sink_ = make_loop_sink(weak_from_this(), reports_inbox_);
  loop_thread_ = std::make_unique<loop_thread>(*system_, stalls_);
  // Spawned lazily: it stays blocked until its first message, which hands it to its thread.
  loop_ = system_->spawn<event_loop, caf::lazy_init>(shared_from_this(), loop_thread_.get(),
                                                     loop_inbox_, reports_inbox_);
  loop_->attach_functor([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> guard{self->loop_done_mutex_};
      self->loop_done_ = true;
      self->loop_done_cv_.notify_all();
    }
  });
  loop_thread_->start(static_cast<event_loop*>(caf::actor_cast<caf::abstract_actor*>(loop_)));
  // Building an actor system leaves a reference to its logger in this thread's thread-local
  // storage, and the system's destructor waits for every such reference to go. Drop this one,
  // so `stop()` may run on any thread, not only on the one that built the runtime.
  caf::logger::set_current_actor_system(nullptr);
  LB_LOG(info, "runtime", "started");
}

const shutdown_report& runtime_core::stop() {
  std::lock_guard<std::mutex> guard{stop_mutex_};
  if (stopped_ || !system_) {
    stopped_ = true;
    return report_;
  }
  stopped_ = true;
  auto t0 = clock::now();
  auto deadline = t0 + options_.shutdown_budget;
  // 1. No new submits; every submit already inside reaches the loop before `stop`. Open
  //    streams close first, so their producers stop instead of filling buffers nobody reads.
  submit_gate_.close();
  close_streams();
  send_to_loop(stop_atom::value,
               static_cast<std::int64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                       .count()));
  // 2. The loop stops the actors in reverse start order, each draining within the budget,
  //    resolves what is left at the budget, waits for its instances to exit, then quits.
  bool loop_ended;
  {
    std::unique_lock<std::mutex> lock{loop_done_mutex_};
    loop_ended =
        loop_done_cv_.wait_until(lock, deadline + stop_loop_grace, [&] { return loop_done_; });
  }
  // 3. Threads outside the scheduler: joined, or left behind and reported. (A loop that
  //    was late gets until then too.)
  auto stuck = threads_.join_all(deadline + stop_thread_grace);
  if (!loop_ended) {
    std::unique_lock<std::mutex> lock{loop_done_mutex_};
    loop_ended =
        loop_done_cv_.wait_until(lock, deadline + stop_thread_grace, [&] { return loop_done_; });
  }
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
    system_.reset(); // joins CAF's clock thread, the last that may notify the loop thread
    config_.reset();
    loop_thread_.reset();
    if (stalls_)
      stalls_->stop();
  } else {
    // Something never returns on the runtime's own threads (a scheduled handler that never
    // ends keeps its instance from exiting): leave the actor system behind rather than wait
    // forever, and name what runs there.
    if (stalls_)
      for (auto& s : stalls_->running())
        stuck.push_back(describe(s));
    loop_thread_->abandon();
    (void)loop_thread_.release();
    (void)system_.release();
    (void)config_.release();
  }
  std::lock_guard<std::mutex> lock{report_mutex_};
  report_.stuck = std::move(stuck);
  report_.loop_stuck = !loop_ended;
  if (report_.loop_stuck)
    report_.stuck.push_back("the event loop did not finish within the shutdown budget (an "
                            "instance never exited); the actor system was left behind");
  report_.took = clock::now() - t0;
  if (!report_.stuck.empty())
    LB_LOG(warning, "runtime", "shutdown left threads behind:\n" << report_.to_string());
  else
    LB_LOG(info, "runtime", "stopped in " << readable_duration(report_.took));
  return report_;
}

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
    if (auto room = admit(*st->target, st->deadline); !room) {
      st->fail(std::move(room).error());
      st->mark_settled();
      return;
    }
    st->admitted = true;
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
  // Record the outcome before raising the token: a worker that sees the token may fail the
  // request itself, and its error must not win over the host's cancel.
  if (!st->fail(error{errc::cancelled, "cancelled by the host"}))
    return false; // it completed first
  st->request_cancel();
  send_to_loop(cancel_atom::value, std::move(st));
  return true;
}

result<std::shared_ptr<actor_record>> runtime_core::validate(actor_spec spec) const {
  if (spec.name.empty())
    return error{errc::bad_request, "an actor needs a name"};
  auto* kind = kinds_.find(spec.kind);
  if (!kind) {
    std::string msg = "unknown kind " + quote(spec.kind);
    auto suggestion = did_you_mean(spec.kind, kinds_.names());
    if (!suggestion.empty())
      msg += " (" + suggestion + ")";
    return error{errc::not_found, msg};
  }
  if (spec.count == 0)
    spec.count = kind->default_count ? std::max<std::uint32_t>(1, kind->default_count()) : 1;
  auto rec = std::make_shared<actor_record>();
  auto problems = resolve_params(kind->params, spec.params, rec->params);
  if (problems.empty() && kind->validate)
    problems = kind->validate(rec->params);
  if (!problems.empty()) {
    std::string msg = "actor " + quote(spec.name) + ": ";
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
    return error{errc::bad_request, "actor " + quote(spec.name) + ": " + e.what()};
  }
  rec->kind = kind;
  rec->capacity = spec.mailbox.capacity > 0 ? spec.mailbox.capacity : options_.default_capacity;
  rec->spec = std::move(spec);
  return rec;
}

std::string runtime_core::name_in_use(const std::string& name) const {
  auto it = records_.find(name);
  if (it == records_.end())
    return {};
  if (!it->second->stopped.load(std::memory_order_acquire))
    return "an actor named " + quote(name) + " already exists";
  for (auto& [from, to] : routes_)
    if (from == name || to == name)
      return "the name " + quote(name) + " belongs to a stopped actor that a route names (" + from +
             " -> " + to + ")";
  return {};
}

result<void> runtime_core::commit(std::shared_ptr<actor_record> rec) {
  std::lock_guard<std::mutex> guard{records_mutex_};
  if (auto why = name_in_use(rec->spec.name); !why.empty())
    return error{errc::bad_request, why};
  if (!submit_gate_.is_open())
    return error{errc::stopped, "the runtime is stopped"};
  rec->sequence = next_sequence_++;
  if (!free_indices_.empty()) {
    rec->index = free_indices_.back();
    free_indices_.pop_back();
    by_index_[rec->index] = rec;
  } else {
    rec->index = static_cast<std::uint32_t>(by_index_.size());
    by_index_.push_back(rec);
  }
  records_[rec->spec.name] = rec; // replaces a stopped actor of that name
  // Sent under the lock: whoever finds the record afterwards submits behind this message.
  if (!send_to_loop(spawn_atom::value, record_ptr{rec}))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

result<void> runtime_core::spawn(actor_spec spec) {
  if (!submit_gate_.is_open())
    return error{errc::stopped, "the runtime is stopped"};
  auto rec = validate(std::move(spec));
  if (!rec)
    return std::move(rec).error();
  return commit(std::move(*rec));
}

result<void> runtime_core::start_all(std::vector<actor_spec> specs) {
  // 1. Validate everything; nothing starts unless all of it is valid.
  std::vector<std::string> problems;
  std::vector<std::shared_ptr<actor_record>> recs;
  std::map<std::string, std::size_t> in_batch;
  for (auto& spec : specs) {
    if (in_batch.count(spec.name)) {
      problems.push_back("actor " + quote(spec.name) + " is declared twice");
      continue;
    }
    in_batch.emplace(spec.name, recs.size());
    auto rec = validate(spec);
    if (!rec) {
      problems.push_back(rec.error().message());
      recs.push_back(nullptr);
      continue;
    }
    recs.push_back(std::move(*rec));
  }
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    std::vector<std::string> known;
    for (auto& [n, _] : records_)
      known.push_back(n);
    for (auto& [n, _] : in_batch)
      known.push_back(n);
    for (auto& spec : specs) {
      if (auto why = name_in_use(spec.name); !why.empty())
        problems.push_back(why);
      for (auto& dep : spec.depends_on)
        if (!in_batch.count(dep) && !records_.count(dep)) {
          std::string msg = "actor " + quote(spec.name) + " depends on unknown actor " + quote(dep);
          auto suggestion = did_you_mean(dep, known);
          if (!suggestion.empty())
            msg += " (" + suggestion + ")";
          problems.push_back(msg);
        }
    }
  }
  // Dependency cycles within the batch, and the waves to start in.
  std::vector<std::vector<std::size_t>> edges(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i)
    for (auto& dep : specs[i].depends_on)
      if (auto it = in_batch.find(dep); it != in_batch.end() && it->second != i)
        edges[i].push_back(it->second);
  auto order = order_graph(edges);
  for (auto& cycle : order.cycles)
    problems.push_back("depends_on cycle: " +
                       describe_cycle(cycle, [&](std::size_t i) { return specs[i].name; }));
  if (!problems.empty()) {
    std::string msg;
    for (auto& p : problems)
      msg += (msg.empty() ? "" : "; ") + p;
    return error{errc::bad_request, msg};
  }
  // 2. Start in waves: everything whose dependencies are ready, then wait until it is ready.
  std::vector<std::string> names;
  for (auto& s : specs)
    names.push_back(s.name);
  subscription sub;
  sub.types = {event_type::ready, event_type::start_failed, event_type::stopped};
  sub.actors = names;
  sub.capacity = 1 << 20;
  auto inbox = subscribe(std::move(sub));
  std::vector<std::string> started_order;
  auto roll_back = [&](error cause) {
    for (auto it = started_order.rbegin(); it != started_order.rend(); ++it)
      (void)stop_actor(*it, std::chrono::seconds(2)).get();
    std::string msg = cause.message();
    if (!started_order.empty()) {
      msg += "; stopped what had started (";
      for (auto it = started_order.rbegin(); it != started_order.rend(); ++it)
        msg += (it == started_order.rbegin() ? "" : ", ") + *it;
      msg += ")";
    }
    return error{errc::start_failed, msg};
  };
  for (auto& wave : order.waves) {
    std::map<std::string, std::uint32_t> waiting; // name -> instances not yet ready
    auto wait_budget = std::chrono::nanoseconds::zero();
    for (auto i : wave) {
      if (auto ok = commit(recs[i]); !ok)
        return roll_back(ok.error());
      started_order.push_back(specs[i].name);
      waiting[specs[i].name] = recs[i]->spec.count;
      wait_budget = std::max(wait_budget, specs[i].ready_timeout);
    }
    auto deadline = clock::now() + wait_budget + std::chrono::seconds(5);
    while (!waiting.empty()) {
      auto e = inbox.next(deadline - clock::now());
      if (!e)
        return roll_back(error{errc::start_failed, "waiting for " + waiting.begin()->first +
                                                       " to be ready: " + e.error().message()});
      auto it = waiting.find(actor_of(*e));
      if (it == waiting.end())
        continue;
      if (std::holds_alternative<ready_event>(*e)) {
        if (--it->second == 0)
          waiting.erase(it);
      } else if (auto* f = std::get_if<start_failed_event>(&*e)) {
        return roll_back(f->reason);
      } else if (auto* s = std::get_if<stopped_event>(&*e)) {
        return roll_back(error{errc::start_failed,
                               s->actor + " stopped while starting: " + s->reason.message()});
      }
    }
  }
  return {};
}

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
      st->reply.emplace(found.last_stop);
      st->publish();
    } else {
      st->fail(error{errc::stopped, "the runtime is stopped"});
    }
    st->mark_settled();
  }
  return f;
}

value_future runtime_core::submit_value(std::string_view actor, std::string_view request,
                                        const value& fields, std::chrono::nanoseconds timeout) {
  record_ptr holder;
  auto st = make_request(actor, request, fields, holder);
  if (!st) {
    auto failed = make_ref<typed_request_state<stop_request>>(stop_request{});
    failed->fail(std::move(st).error());
    failed->mark_settled();
    return value_future{request_ref{failed}, nullptr, shared_from_this()};
  }
  auto* entry = (*st)->target->kind->find_request((*st)->request_type());
  submit(*st, timeout);
  return value_future{std::move(*st), entry->reply_to_value, shared_from_this()};
}

result<request_ref> runtime_core::make_request(std::string_view actor, std::string_view request,
                                               const value& fields, record_ptr& holder) const {
  auto failed = [](error e) { return result<request_ref>{std::move(e)}; };
  auto rec = find(actor, nullptr, {});
  if (!rec)
    return failed(std::move(rec).error());
  auto& kind = *(*rec)->kind;
  auto* entry = kind.find_request(request);
  if (!entry || !entry->from_value) {
    std::vector<std::string> names;
    std::string served;
    for (auto& r : kind.requests)
      if (!r.name.empty()) {
        names.push_back(r.name);
        served += (served.empty() ? "" : ", ") + r.name;
      }
    std::string msg =
        "actor " + quote(actor) + " (kind " + kind.name + ") serves no request " + quote(request);
    auto suggestion = did_you_mean(request, names);
    msg += suggestion.empty() ? " (it serves: " + served + ")" : " (" + suggestion + ")";
    return failed(error{errc::not_found, msg});
  }
  std::vector<field_problem> problems;
  auto st = entry->from_value(fields, problems);
  if (!st) {
    std::string msg = "request " + quote(entry->name) + " to " + quote(actor) + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      msg += (i ? "; " : "") + problems[i].path + ": " + problems[i].message;
      if (!problems[i].hint.empty())
        msg += " (" + problems[i].hint + ")";
    }
    return failed(error{errc::bad_request, msg});
  }
  st->target = rec->get();
  holder = *rec;
  return st;
}

namespace {

/// The parent of a pipeline submitted with value fields: the last stage's reply as a value.
class value_pipeline_parent final : public reply_state<value> {
public:
  value_pipeline_parent() : reply_state<value>(tag_of<value_pipeline_parent>()) {}
  void* request_data() noexcept override { return nullptr; }
  bool adopt_reply(request_state& last) noexcept override {
    auto* entry = last.target->kind->find_request(last.request_type());
    if (!entry || !entry->reply_to_value)
      return false;
    reply = entry->reply_to_value(last);
    return true;
  }
};

value parent_value(request_state& st) {
  auto& typed = static_cast<reply_state<value>&>(st);
  return typed.reply ? *typed.reply : value{};
}

} // namespace

result<runtime_core::pipeline_end> runtime_core::pipeline_reply(const actor_record& entry,
                                                                const type_tag* request) const {
  std::lock_guard<std::mutex> guard{records_mutex_};
  const actor_record* at = &entry;
  for (std::size_t hops = 0; hops <= records_.size(); ++hops) {
    auto* e = at->kind->find_request(request);
    if (!e)
      return error{errc::bad_request, quote(at->spec.name) + " does not serve this request type"};
    auto route = routes_.find(at->spec.name);
    if (route == routes_.end())
      return pipeline_end{at->spec.name, e->name, e->reply_tag, hops};
    auto& next = *records_.at(route->second);
    auto* adapter = kinds_.find_adapter(e->reply_tag, *next.kind);
    if (!adapter)
      return error{errc::bad_request, "route " + quote(at->spec.name) + " -> " +
                                          quote(next.spec.name) +
                                          ": no adapter for this reply type"};
    request = adapter->to;
    at = &next;
  }
  return error{errc::bad_request, "the routes from " + quote(entry.spec.name) + " form a cycle"};
}

void runtime_core::submit_pipeline(request_ref parent, request_ref first,
                                   const type_tag* final_reply, clock::duration timeout) {
  auto fail = [&](error e) {
    parent->fail(std::move(e));
    parent->mark_settled();
  };
  auto chain = pipeline_reply(*first->target, first->request_type());
  if (!chain)
    return fail(std::move(chain).error());
  if (final_reply && chain->reply != final_reply) {
    auto& from = first->target->spec.name;
    if (chain->routes == 0)
      return fail(error{errc::bad_request,
                        "the pipeline from " + quote(from) + " has no route: " + quote(from) +
                            " answers " + quote(chain->last_request) +
                            " itself, with another reply type than the one asked for (add a "
                            "route from " +
                            quote(from) + " under 'routes:' in the topology)"});
    return fail(error{errc::bad_request, "the pipeline from " + quote(from) + " ends at " +
                                             quote(chain->last) + " (request " +
                                             quote(chain->last_request) +
                                             "), whose reply type is not the one asked for"});
  }
  stamp(*first, timeout);
  parent->id = first->id;
  parent->deadline = first->deadline;
  parent->context = first->context;
  parent->target = first->target;
  first->parent = parent;
  enqueue(first);
  if (first->done() && first->failed() && !parent->done())
    fail(first->error());
}

value_future runtime_core::submit_pipeline_value(std::string_view actor, std::string_view request,
                                                 const value& fields,
                                                 std::chrono::nanoseconds timeout) {
  auto parent = make_ref<value_pipeline_parent>();
  value_future f{request_ref{parent}, &parent_value, shared_from_this()};
  record_ptr holder;
  auto first = make_request(actor, request, fields, holder);
  if (!first) {
    parent->fail(std::move(first).error());
    parent->mark_settled();
    return f;
  }
  submit_pipeline(request_ref{parent}, std::move(*first), nullptr, timeout);
  return f;
}

result<void> runtime_core::check_route(const std::string& from, const std::string& to,
                                       const std::map<std::string, const kind_descriptor*>& kinds,
                                       const std::map<std::string, std::string>& routes) const {
  auto fk = kinds.find(from);
  auto tk = kinds.find(to);
  if (fk == kinds.end() || tk == kinds.end())
    return error{errc::not_found, "route " + quote(from) + " -> " + quote(to) + ": unknown actor " +
                                      quote(fk == kinds.end() ? from : to)};
  if (from == to)
    return error{errc::bad_request, "route " + from + " -> " + to + ": a route to itself"};
  if (routes.count(from))
    return error{errc::bad_request, "route " + from + " -> " + to + ": " + from +
                                        " already routes to " + routes.at(from)};
  for (auto at = to;;) { // would this route close a cycle?
    auto next = routes.find(at);
    if (next == routes.end())
      break;
    if (next->second == from)
      return error{errc::bad_request, "route " + from + " -> " + to + " would form a cycle"};
    at = next->second;
  }
  for (auto& r : fk->second->requests)
    if (kinds_.find_adapter(r.reply_tag, *tk->second))
      return {};
  return error{errc::bad_request, "route " + from + " -> " + to + ": no adapter from a reply of " +
                                      fk->second->name + " to a request of " + tk->second->name +
                                      " (register one with kind_registry::adapt)"};
}

result<void> runtime_core::add_route(std::string_view from, std::string_view to) {
  std::lock_guard<std::mutex> guard{records_mutex_};
  std::map<std::string, const kind_descriptor*> kinds;
  for (auto& [name, rec] : records_)
    kinds.emplace(name, rec->kind);
  if (auto ok = check_route(std::string{from}, std::string{to}, kinds, routes_); !ok)
    return ok;
  auto& f = *records_.find(from)->second;
  auto& t = *records_.find(to)->second;
  for (auto* one_shot : {&f, &t})
    if (one_shot->spec.stop_after > 0)
      return error{errc::bad_request, "route " + std::string{from} + " -> " + std::string{to} +
                                          ": " + one_shot->spec.name +
                                          " is a one-shot actor and takes no routes"};
  routes_.emplace(std::string{from}, std::string{to});
  if (!send_to_loop(route_atom::value, f.index, t.index))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

result<void> runtime_core::start_topology(const topology& topo) {
  // Routes are checked against the actors about to start, before anything starts.
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    std::map<std::string, const kind_descriptor*> kinds;
    for (auto& [name, rec] : records_)
      kinds.emplace(name, rec->kind);
    for (auto& a : topo.actors)
      if (auto* k = kinds_.find(a.kind))
        kinds.emplace(a.name, k);
    auto routes = routes_;
    for (auto& r : topo.routes) {
      if (auto ok = check_route(r.from, r.to, kinds, routes); !ok)
        return ok;
      routes.emplace(r.from, r.to);
    }
  }
  if (auto ok = start_all(topo.actors); !ok)
    return ok;
  for (auto& r : topo.routes)
    if (auto ok = add_route(r.from, r.to); !ok)
      return ok;
  return {};
}

result<void> runtime_core::kill_instance(std::string_view name, std::uint32_t instance) {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  if (instance >= (*rec)->spec.count)
    return error{errc::not_found, "actor " + quote(name) + " has no instance " +
                                      std::to_string(instance) + " (count " +
                                      std::to_string((*rec)->spec.count) + ")"};
  if (!send_to_loop(kill_atom::value, *rec, instance))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

slow_handler_event runtime_core::name_stall(const stall& s, record_ptr& rec) const {
  slow_handler_event e;
  e.instance = s.instance;
  e.elapsed = s.elapsed;
  e.thread = s.thread;
  if (s.actor_sequence == 0) {
    e.actor = "loop";
    return e;
  }
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    if (s.actor_index < by_index_.size() && by_index_[s.actor_index] &&
        by_index_[s.actor_index]->sequence + 1 == s.actor_sequence)
      rec = by_index_[s.actor_index];
  }
  if (rec) {
    e.actor = rec->spec.name;
    if (auto* entry = s.request ? rec->kind->find_request(s.request) : nullptr)
      e.request_type = entry->type_name;
  }
  return e;
}

std::string runtime_core::describe(const stall& s) const {
  record_ptr rec;
  auto e = name_stall(s, rec);
  std::string what = s.actor_sequence == 0 ? std::string{"a message on the event loop's thread"}
                     : !rec                ? std::string{"a handler of a retired actor"}
                            : "a handler of " + e.actor + "/" + std::to_string(e.instance) +
                                  (e.request_type.empty() ? "" : " (" + e.request_type + ")");
  return e.thread + ": " + what + " running for " + readable_duration(e.elapsed);
}

void runtime_core::report_stall(const stall& s) {
  record_ptr rec;
  auto e = name_stall(s, rec);
  if (s.actor_sequence != 0 && !rec)
    return; // it ended and its actor was retired meanwhile
  if (rec)
    actor_counters::add(rec->counters.slow_handlers);
  // Long handlers are what dedicated threads are for: only the loop and scheduled kinds, whose
  // long handlers hold threads other actors need, get a warning.
  if (!rec || rec->mode == execution::scheduled)
    LB_LOG(warning, "stall",
           describe(s) << "; runtime.slow_handler is " << readable_duration(options_.slow_handler));
  else
    LB_LOG(info, "stall", describe(s));
  if (wants(event_type::slow_handler))
    publish(e);
}

void runtime_core::record_stopped(const actor_record& rec, const stopped_event& e) {
  std::lock_guard<std::mutex> guard{report_mutex_};
  report_.actors.push_back(e);
  report_owners_.push_back(&rec);
}

std::vector<actor_metrics> runtime_core::metrics() const {
  std::vector<record_ptr> recs;
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    recs = by_index_;
  }
  recs.erase(std::remove(recs.begin(), recs.end(), nullptr), recs.end());
  std::sort(recs.begin(), recs.end(),
            [](const record_ptr& a, const record_ptr& b) { return a->sequence < b->sequence; });
  std::vector<actor_metrics> out;
  for (auto& rec : recs)
    out.push_back(snapshot(*rec));
  return out;
}

void runtime_core::retire(const actor_record& rec) {
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    if (auto it = records_.find(rec.spec.name); it != records_.end() && it->second.get() == &rec)
      records_.erase(it);
    if (rec.index < by_index_.size() && by_index_[rec.index].get() == &rec) {
      by_index_[rec.index] = nullptr;
      free_indices_.push_back(rec.index);
    }
  }
  std::lock_guard<std::mutex> guard{report_mutex_};
  for (std::size_t i = report_owners_.size(); i-- > 0;)
    if (report_owners_[i] == &rec) {
      report_.actors.erase(report_.actors.begin() + static_cast<std::ptrdiff_t>(i));
      report_owners_.erase(report_owners_.begin() + static_cast<std::ptrdiff_t>(i));
      ++report_.retired;
      break;
    }
}

result<actor_metrics> runtime_core::metrics(std::string_view name) const {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  return snapshot(**rec);
}

actor_metrics runtime_core::snapshot(const actor_record& rec) {
  auto& c = rec.counters;
  actor_metrics m;
  m.name = rec.spec.name;
  m.kind = rec.kind->name;
  m.instances = rec.spec.count;
  m.received = c.received.load(std::memory_order_relaxed);
  m.completed = c.completed.load(std::memory_order_relaxed);
  m.failed = c.failed.load(std::memory_order_relaxed);
  m.cancelled = c.cancelled.load(std::memory_order_relaxed);
  m.queued = c.queued.load(std::memory_order_relaxed);
  m.in_flight = c.in_flight.load(std::memory_order_relaxed);
  m.restarts = c.restarts.load(std::memory_order_relaxed);
  m.max_held = c.max_held.load(std::memory_order_relaxed);
  m.slow_handlers = c.slow_handlers.load(std::memory_order_relaxed);
  m.p50 = c.latency.quantile(0.5);
  m.p99 = c.latency.quantile(0.99);
  return m;
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
    std::string msg = "no actor named " + quote(name);
    auto suggestion = did_you_mean(name, names);
    if (!suggestion.empty())
      msg += " (" + suggestion + ")";
    return error{errc::not_found, msg};
  }
  if (kind && it->second->kind->tag != kind)
    return error{errc::wrong_kind, "actor " + quote(name) + " is of kind " +
                                       quote(it->second->kind->name) + ", not " + quote(kind_name)};
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

runtime::runtime(kind_registry kinds, const topology& topo)
    : runtime(std::move(kinds), topo.runtime) {
  if (auto ok = start(topo); !ok) {
    core_->stop();
    throw error_exception(ok.error());
  }
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

const shutdown_report& runtime::stop() {
  return core_->stop();
}

result<void> runtime::start(std::vector<actor_spec> specs) {
  return core_->start_all(std::move(specs));
}

result<void> runtime::start(const topology& topo) {
  return core_->start_topology(topo);
}

result<void> runtime::add_route(std::string_view from, std::string_view to) {
  return core_->add_route(from, to);
}

value_future runtime::submit_pipeline_value(std::string_view entry, std::string_view request,
                                            const value& fields, std::chrono::nanoseconds timeout) {
  return core_->submit_pipeline_value(entry, request, fields, timeout);
}

void runtime::submit_pipeline_states(detail::request_ref parent, detail::request_ref first,
                                     const detail::type_tag* final_reply,
                                     std::chrono::nanoseconds timeout) {
  core_->submit_pipeline(std::move(parent), std::move(first), final_reply, timeout);
}

std::optional<std::string> runtime::route_from(std::string_view from) const {
  return core_->route_from(from);
}

result<void> runtime::kill_instance(std::string_view name, std::uint32_t instance) {
  return core_->kill_instance(name, instance);
}

result<void> runtime::slow_down(std::string_view name, std::chrono::nanoseconds delay) {
  auto rec = core_->find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  (*rec)->injected_delay_ns = std::max<std::int64_t>(0, delay.count());
  return {};
}

future<stopped_event> runtime::stop_actor(std::string_view name, std::chrono::nanoseconds timeout) {
  return core_->stop_actor(name, timeout);
}

value_future runtime::submit_value(std::string_view actor, std::string_view request,
                                   const value& fields, std::chrono::nanoseconds timeout) {
  return core_->submit_value(actor, request, fields, timeout);
}

std::vector<actor_metrics> runtime::metrics() const {
  return core_->metrics();
}

result<actor_metrics> runtime::metrics(std::string_view name) const {
  return core_->metrics(name);
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

namespace detail {

void runtime_core::track_stream(std::weak_ptr<stream_control> s) {
  std::lock_guard<std::mutex> guard{streams_mutex_};
  streams_.erase(
      std::remove_if(streams_.begin(), streams_.end(), [](auto& w) { return w.expired(); }),
      streams_.end());
  streams_.push_back(std::move(s));
}

void runtime_core::close_streams() {
  std::vector<std::weak_ptr<stream_control>> open;
  {
    std::lock_guard<std::mutex> guard{streams_mutex_};
    open.swap(streams_);
  }
  for (auto& w : open)
    if (auto s = w.lock())
      s->close(error{errc::stopped, "the runtime stopped"});
}

} // namespace detail

void runtime::track_stream(std::weak_ptr<detail::stream_control> s) {
  core_->track_stream(std::move(s));
}

result<value> runtime::ready_info(std::string_view name) const {
  auto rec = core_->find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  std::lock_guard<std::mutex> guard{(*rec)->ready_info_mutex};
  return (*rec)->ready_info.is_null() ? value{value::map{}} : (*rec)->ready_info;
}

result<blocking_pool> runtime::pool(std::string_view name) const {
  auto rec = core_->find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  if (!(*rec)->kind->find_request(detail::tag_of<detail::offload_marker>()))
    return error{errc::wrong_kind, "actor " + quote(name) + " is of kind " +
                                       quote((*rec)->kind->name) +
                                       ", which runs no offloaded functions"};
  return blocking_pool{std::move(*rec), bridge()};
}

result<blocking_pool> runtime::default_pool() {
  auto& name = core_->options().offload_pool;
  std::lock_guard<std::mutex> guard{core_->pools_mutex_};
  auto p = pool(name);
  if (p || !p.is(errc::not_found))
    return p;
  if (!core_->kinds().find("blocking"))
    return error{errc::not_found, "no blocking pool " + quote(name) +
                                      ", and the kind 'blocking' is not registered to make one"};
  actor_spec spec;
  spec.name = name;
  spec.kind = "blocking";
  if (auto ok = core_->spawn(std::move(spec)); !ok)
    return std::move(ok).error();
  return pool(name);
}

result<blocking_pool> runtime::separate_pool() {
  std::lock_guard<std::mutex> guard{core_->pools_mutex_};
  if (!core_->kinds().find("blocking"))
    return error{errc::not_found, "offload_separate needs the kind 'blocking'"};
  actor_spec spec;
  spec.name = "separate." + std::to_string(++core_->separate_count_);
  spec.kind = "blocking";
  spec.count = 1;
  spec.stop_after = 1; // the thread ends with its function
  auto name = spec.name;
  if (auto ok = core_->spawn(std::move(spec)); !ok)
    return std::move(ok).error();
  auto p = pool(name);
  if (!p)
    return p;
  return p->with_timeout(std::chrono::nanoseconds::max()); // long-lived: no deadline
}

} // namespace loopbridge
