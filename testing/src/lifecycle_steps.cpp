// Steps about actors' and the runtime's lives: wait_event, fault, spawn, stop_actor,
// expect_metrics and stop.
#include <thread>

#include "runner.hpp"

#include "loopbridge/params.hpp"
#include "loopbridge/testing/faults.hpp"

#include "value_match.hpp"

namespace loopbridge::testing::detail {

namespace {

value event_value(const event& e) {
  return std::visit([](auto& ev) { return to_value(ev); }, e);
}

value metrics_value(const actor_metrics& m) {
  return value{{"name", m.name},           {"kind", m.kind},           {"instances", m.instances},
               {"received", m.received},   {"completed", m.completed}, {"failed", m.failed},
               {"cancelled", m.cancelled}, {"queued", m.queued},       {"in_flight", m.in_flight},
               {"restarts", m.restarts},   {"max_held", m.max_held},   {"sent", m.sent},
               {"suspended", m.suspended}};
}

std::chrono::nanoseconds delay_of(const value* d) {
  if (d && d->is_duration())
    return d->as_duration();
  if (d && d->is_string())
    return parse_duration(d->as_string()).value_or(std::chrono::nanoseconds{0});
  return std::chrono::nanoseconds{0};
}

} // namespace

verdict runner::perform(const config::wait_event_step& s, std::uint64_t) {
  auto deadline = clock::now() + within(s);
  auto wanted = *parse_event_type(s.event);
  std::string last_why;
  auto match = [&](const event& e) {
    if (type_of(e) != wanted || (!s.actor.empty() && actor_of(e) != s.actor))
      return false;
    if (s.expect.is_null())
      return true;
    auto why = mismatch(s.expect, event_value(e));
    if (why)
      last_why = *why;
    return !why;
  };
  std::lock_guard<std::mutex> guard{events_mutex_};
  for (auto it = backlog_.begin(); it != backlog_.end(); ++it)
    if (match(*it)) {
      backlog_.erase(it);
      return verdict::pass();
    }
  for (auto left = deadline - clock::now(); left > std::chrono::nanoseconds::zero();
       left = deadline - clock::now()) {
    auto e = inbox_.next(left);
    if (!e)
      break;
    if (match(*e))
      return verdict::pass();
    backlog_.push_back(std::move(*e));
  }
  std::string seen;
  for (auto& e : backlog_)
    if (type_of(e) == wanted)
      seen += (seen.empty() ? "" : "; ") + to_string(e);
  return verdict::fail("a " + s.event + " event" + (s.actor.empty() ? "" : " of " + s.actor) +
                           (s.expect.is_null() ? "" : " matching " + s.expect.to_string()) +
                           " within " + ms_text(within(s)),
                       seen.empty()
                           ? "none came"
                           : "only: " + seen + (last_why.empty() ? "" : " (" + last_why + ")"));
}

verdict runner::perform(const config::fault_step& s, std::uint64_t i) {
  auto& f = s.spec;
  if (auto* kill = f.find("kill")) {
    auto* instance = kill->find("instance");
    auto r =
        testing::kill_instance(rt_, kill->find("actor")->as_string(),
                               instance ? static_cast<std::uint32_t>(instance->as_integer()) : 0);
    return r ? verdict::pass() : verdict::fail("the instance killed", r.error().message());
  }
  if (auto* slow = f.find("slow")) {
    auto r =
        testing::slow_down(rt_, slow->find("actor")->as_string(), delay_of(slow->find("delay")));
    return r ? verdict::pass() : verdict::fail("the actor slowed down", r.error().message());
  }
  if (auto* origin = f.find("origin")) {
    auto faults = f.find("faults") ? *f.find("faults") : value{value::list{}};
    config::step_request set{origin->as_string(), "set_faults", value{{"faults", faults}}, {}};
    auto fut = send(set, set.fields, i, options_.default_within);
    auto got = outcome(fut, options_.default_within);
    return got ? verdict::pass() : verdict::fail("the origin's faults set", got.error().message());
  }
  return verdict::fail("a fault", "nothing to inject");
}

verdict runner::perform(const config::spawn_step& s, std::uint64_t) {
  auto spec = s.actor;
  if (!spec.params.is_null()) {
    auto params = resolve(spec.params, 0);
    if (!params)
      return verdict::fail("params whose placeholders resolve", params.error().message());
    spec.params = *params;
  }
  // Validated now; its start goes on in the background (wait_event ready / start_failed).
  auto r = rt_.spawn(spec);
  result<value> got = r ? result<value>{value{value::map{}}} : result<value>{r.error()};
  return check_outcome(value{}, s.expect_error, s.expect_message, got);
}

verdict runner::perform(const config::stop_actor_step& s, std::uint64_t) {
  auto f = rt_.stop_actor(s.actor, within(s));
  if (!f.wait_for(within(s) + std::chrono::seconds(1)))
    return verdict::fail("stopped within " + ms_text(within(s)), "still stopping");
  auto ev = f.get();
  if (!ev)
    return verdict::fail("a stopped event", ev.error().message());
  return check_value(s.expect, to_value(*ev));
}

verdict runner::perform(const config::expect_metrics_step& s, std::uint64_t) {
  auto deadline = clock::now() + within(s);
  std::string why;
  value last;
  for (;;) {
    for (auto& m : rt_.metrics())
      if (m.name == s.actor)
        last = metrics_value(m);
    auto miss = mismatch(s.expect, last);
    if (!miss)
      return verdict::pass();
    why = *miss;
    if (clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return verdict::fail(s.expect.to_string() + " within " + ms_text(within(s)),
                       why + " (" + last.to_string() + ")");
}

verdict runner::perform(const config::stop_step& s, std::uint64_t) {
  auto& report = rt_.stop();
  std::uint64_t lost = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& f : all_)
      if (!f.ready())
        ++lost;
  }
  value::list stuck;
  for (auto& x : report.stuck)
    stuck.push_back(x);
  value::list order;
  for (auto& a : report.actors)
    order.push_back(a.actor);
  value got{{"cancelled", report.cancelled()},
            {"clean", report.clean()},
            {"lost", lost},
            {"stuck", value{stuck}},
            {"order", value{order}}};
  if (lost > 0)
    return verdict::fail("every request resolved by the stop",
                         std::to_string(lost) + " still pending (" + got.to_string() + ")");
  if (s.within.count() > 0 && report.took > s.within)
    return verdict::fail("stopped within " + ms_text(s.within), "took " + ms_text(report.took));
  return check_value(s.expect, got);
}

} // namespace loopbridge::testing::detail
