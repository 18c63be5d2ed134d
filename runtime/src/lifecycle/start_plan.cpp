// Starting a batch of actors: validating all of them first, then starting them in dependency
// waves, each wave ready before the next starts; and starting a whole topology with its routes.
#include "runtime_core.hpp"

#include <algorithm>
#include <map>

#include "loopbridge/graph.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

namespace {

/// A batch of actors on its way to start: their specs, their validated records (null where a
/// spec is invalid), where each name sits in the batch, what is wrong with the batch, and the
/// names committed so far, in start order.
struct start_plan {
  std::vector<actor_spec> specs;
  std::vector<std::shared_ptr<actor_record>> recs;
  std::map<std::string, std::size_t> in_batch;
  std::vector<std::string> problems;
  std::vector<std::string> started;
};

/// Validates every spec of `specs` on its own (a name twice in the batch is a problem too).
start_plan validate_batch(const runtime_core& core, std::vector<actor_spec> specs) {
  start_plan plan;
  plan.specs = std::move(specs);
  for (auto& spec : plan.specs) {
    if (plan.in_batch.count(spec.name)) {
      plan.problems.push_back("actor " + quote(spec.name) + " is declared twice");
      continue;
    }
    plan.in_batch.emplace(spec.name, plan.recs.size());
    auto rec = core.validate(spec);
    if (!rec) {
      plan.problems.push_back(rec.error().message());
      plan.recs.push_back(nullptr);
      continue;
    }
    plan.recs.push_back(std::move(*rec));
  }
  return plan;
}

/// The batch's dependency graph in waves to start in; each dependency cycle within the batch
/// is added to the plan's problems.
std::vector<std::vector<std::size_t>> order_waves(start_plan& plan) {
  auto& specs = plan.specs;
  std::vector<std::vector<std::size_t>> edges(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i)
    for (auto& dep : specs[i].depends_on)
      if (auto it = plan.in_batch.find(dep); it != plan.in_batch.end() && it->second != i)
        edges[i].push_back(it->second);
  auto order = order_graph(edges);
  for (auto& cycle : order.cycles)
    plan.problems.push_back("depends_on cycle: " +
                            describe_cycle(cycle, [&](std::size_t i) { return specs[i].name; }));
  return std::move(order.waves);
}

/// Every problem of the plan in one `bad_request` error.
error batch_error(const start_plan& plan) {
  std::string msg;
  for (auto& p : plan.problems)
    msg += (msg.empty() ? "" : "; ") + p;
  return error{errc::bad_request, msg};
}

/// An inbox for the start events (ready, start failed, stopped) of the batch's actors.
event_inbox subscribe_to_starts(runtime_core& core, const start_plan& plan) {
  std::vector<std::string> names;
  for (auto& s : plan.specs)
    names.push_back(s.name);
  subscription sub;
  sub.types = {event_type::ready, event_type::start_failed, event_type::stopped};
  sub.actors = names;
  sub.capacity = 1 << 20;
  return core.subscribe(std::move(sub));
}

/// Stops what the plan started, in reverse start order, and returns `cause` as a
/// `start_failed` error that names them.
error roll_back(runtime_core& core, const start_plan& plan, error cause) {
  auto& started_order = plan.started;
  for (auto it = started_order.rbegin(); it != started_order.rend(); ++it)
    (void)core.stop_actor(*it, std::chrono::seconds(2)).get();
  std::string msg = cause.message();
  if (!started_order.empty()) {
    msg += "; stopped what had started (";
    for (auto it = started_order.rbegin(); it != started_order.rend(); ++it)
      msg += (it == started_order.rbegin() ? "" : ", ") + *it;
    msg += ")";
  }
  return error{errc::start_failed, msg};
}

/// Waits until every instance counted in `waiting` (name -> instances not yet ready) is ready.
/// Fails on the first start failure or stop of one of them, or when no start event arrives
/// for `quiet`: each instance's own ready timeout fails it (a start_failed event), so this only
/// guards against an event that never comes, and a pool whose instances get ready one after
/// the other for longer than one ready timeout still starts.
result<void> wait_ready(event_inbox& inbox, std::map<std::string, std::uint32_t> waiting,
                        std::chrono::nanoseconds quiet) {
  while (!waiting.empty()) {
    auto e = inbox.next(quiet);
    if (!e)
      return error{errc::start_failed, "waiting for " + waiting.begin()->first +
                                           " to be ready: " + e.error().message()};
    auto it = waiting.find(actor_of(*e));
    if (it == waiting.end())
      continue;
    if (std::holds_alternative<ready_event>(*e)) {
      if (--it->second == 0)
        waiting.erase(it);
    } else if (auto* f = std::get_if<start_failed_event>(&*e)) {
      return f->reason;
    } else if (auto* s = std::get_if<stopped_event>(&*e)) {
      return error{errc::start_failed,
                   s->actor + " stopped while starting: " + s->reason.message()};
    }
  }
  return {};
}

/// Commits every actor of `wave`, then waits until all of their instances are ready.
result<void> start_wave(runtime_core& core, start_plan& plan, const std::vector<std::size_t>& wave,
                        event_inbox& inbox) {
  std::map<std::string, std::uint32_t> waiting; // name -> instances not yet ready
  auto wait_budget = std::chrono::nanoseconds::zero();
  for (auto i : wave) {
    if (auto ok = core.commit(plan.recs[i]); !ok)
      return ok;
    plan.started.push_back(plan.specs[i].name);
    waiting[plan.specs[i].name] = plan.recs[i]->spec.count;
    wait_budget = std::max(wait_budget, plan.specs[i].ready_timeout);
  }
  constexpr auto grace = std::chrono::seconds(5);
  auto quiet =
      wait_budget < std::chrono::nanoseconds::max() - grace ? wait_budget + grace : wait_budget;
  return wait_ready(inbox, std::move(waiting), quiet);
}

} // namespace

std::vector<std::string>
runtime_core::batch_name_problems(const std::vector<actor_spec>& specs,
                                  const std::map<std::string, std::size_t>& in_batch) const {
  std::vector<std::string> problems;
  std::lock_guard<std::mutex> guard{records_mutex_};
  std::vector<std::string> known;
  for (auto& [n, _] : records_)
    known.emplace_back(n);
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
  return problems;
}

result<void> runtime_core::start_all(std::vector<actor_spec> specs) {
  auto plan = validate_batch(*this, std::move(specs));
  for (auto& p : batch_name_problems(plan.specs, plan.in_batch))
    plan.problems.push_back(std::move(p));
  auto waves = order_waves(plan);
  if (!plan.problems.empty())
    return batch_error(plan);
  auto inbox = subscribe_to_starts(*this, plan);
  for (auto& wave : waves)
    if (auto ok = start_wave(*this, plan, wave, inbox); !ok)
      return roll_back(*this, plan, ok.error());
  return {};
}

result<void> runtime_core::start_topology(const topology& topo) {
  // Routes are checked against the actors about to start, before anything starts.
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    std::map<std::string, const kind_descriptor*> kinds;
    for (auto& [name, rec] : records_)
      kinds.emplace(std::string{name}, rec->kind);
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
  if (auto ok = add_nodes(topo.nodes); !ok)
    return ok;
  if (auto ok = start_all(topo.actors); !ok)
    return ok;
  for (auto& r : topo.routes)
    if (auto ok = add_route(r.from, r.to); !ok)
      return ok;
  return {};
}

} // namespace loopbridge::detail
