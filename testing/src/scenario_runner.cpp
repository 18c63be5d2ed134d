#include "loopbridge/testing/scenario_runner.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "loopbridge/context.hpp"
#include "loopbridge/convert.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/workload.hpp"

#include "value_match.hpp"

namespace loopbridge::testing {

namespace {

using clock = std::chrono::steady_clock;
using step_kind = config::scenario_step::kind;
using config::scenario_step;

std::string code_of(const error& e) {
  return e.domain() + "." + e.code();
}

std::string ms_text(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

const char* kind_name(step_kind k) {
  switch (k) {
    case step_kind::call:
      return "call";
    case step_kind::submit:
      return "submit";
    case step_kind::await:
      return "await";
    case step_kind::gather:
      return "gather";
    case step_kind::wait_event:
      return "wait_event";
    case step_kind::fault:
      return "fault";
    case step_kind::spawn:
      return "spawn";
    case step_kind::stop_actor:
      return "stop_actor";
    case step_kind::parallel:
      return "parallel";
    case step_kind::repeat:
      return "repeat";
    case step_kind::stream:
      return "stream";
    case step_kind::offload:
      return "offload";
    case step_kind::expect_metrics:
      return "expect_metrics";
    case step_kind::stop:
      return "stop";
  }
  return "?";
}

/// What went wrong in a step (empty `expected` and `actual`: it passed).
struct verdict {
  bool ok = true;
  std::string expected;
  std::string actual;

  static verdict pass() { return {}; }
  static verdict fail(std::string expected, std::string actual) {
    return {false, std::move(expected), std::move(actual)};
  }
};

/// Checks an outcome against a step's expectations: `expect_error` (+ `expect_message`), or
/// success with `expect` a subset of the reply.
verdict check_outcome(const scenario_step& s, const result<value>& got) {
  if (!s.expect_error.empty()) {
    if (got)
      return verdict::fail("error " + s.expect_error, "success: " + got->to_string());
    if (code_of(got.error()) != s.expect_error)
      return verdict::fail("error " + s.expect_error,
                           "error " + code_of(got.error()) + ": " + got.error().message());
    if (!s.expect_message.empty() &&
        got.error().message().find(s.expect_message) == std::string::npos)
      return verdict::fail("an error message containing " + quote(s.expect_message),
                           got.error().message());
    return verdict::pass();
  }
  if (!got)
    return verdict::fail(s.expect.is_null() ? "success"
                                            : "a reply matching " + s.expect.to_string(),
                         "error " + code_of(got.error()) + ": " + got.error().message());
  std::string why;
  if (!s.expect.is_null() && !detail::matches(s.expect, *got, "", why))
    return verdict::fail(s.expect.to_string(), why + " (reply: " + got->to_string() + ")");
  return verdict::pass();
}

value event_value(const event& e) {
  return std::visit([](auto& ev) { return to_value(ev); }, e);
}

value metrics_value(const actor_metrics& m) {
  return value{{"name", m.name},           {"kind", m.kind},           {"instances", m.instances},
               {"received", m.received},   {"completed", m.completed}, {"failed", m.failed},
               {"cancelled", m.cancelled}, {"queued", m.queued},       {"in_flight", m.in_flight},
               {"restarts", m.restarts},   {"max_held", m.max_held}};
}

/// A counting generator for `stream` steps: yields 0, 1, ... up to `items`; records how far
/// it got and when it was destroyed (its cleanup, like closing a Python generator).
struct counting_generator {
  std::int64_t items;
  std::shared_ptr<std::atomic<std::int64_t>> produced;
  std::shared_ptr<std::atomic<bool>> destroyed;
  std::optional<std::int64_t> operator()() {
    auto n = produced->load();
    if (n >= items)
      return std::nullopt;
    ++*produced;
    return n;
  }
  counting_generator(std::int64_t n, std::shared_ptr<std::atomic<std::int64_t>> p,
                     std::shared_ptr<std::atomic<bool>> d)
      : items(n),
        produced(std::move(p)),
        destroyed(std::move(d)) {}
  counting_generator(counting_generator&& o) noexcept = default;
  ~counting_generator() {
    if (destroyed)
      *destroyed = true;
  }
};

/// The directory of the scenario's file (`${scenario.dir}`).
std::string scenario_dir(const config::scenario& s) {
  auto dir = std::filesystem::path{s.source}.parent_path().string();
  return dir.empty() ? "." : dir;
}

/// Runs one scenario's steps against its runtime.
class runner {
public:
  runner(const config::scenario& s, runtime& rt, const run_options& options)
      : scenario_(s),
        rt_(rt),
        options_(options),
        inbox_(rt.subscribe({{}, {}, 65536})) {}

  verdict run(const scenario_step& step, std::uint64_t i) {
    // Expectations may use the placeholders requests use: `{i}`, `${actor.key}`.
    const scenario_step* sp = &step;
    scenario_step resolved;
    if (!step.expect.is_null()) {
      auto expect = resolve(step.expect, i);
      if (!expect)
        return verdict::fail("an expectation whose placeholders resolve", expect.error().message());
      resolved = step;
      resolved.expect = std::move(*expect);
      sp = &resolved;
    }
    auto& s = *sp;
    switch (s.type) {
      case step_kind::call:
        return call(s, i);
      case step_kind::submit:
        return submit(s, i);
      case step_kind::await:
        return await(s, i);
      case step_kind::gather:
        return gather(s, i);
      case step_kind::wait_event:
        return wait_event(s);
      case step_kind::fault:
        return fault(s, i);
      case step_kind::spawn:
        return spawn(s);
      case step_kind::stop_actor:
        return stop_actor(s);
      case step_kind::parallel:
        return parallel(s, i);
      case step_kind::repeat:
        return repeat(s);
      case step_kind::stream:
        return stream(s);
      case step_kind::offload:
        return offload(s);
      case step_kind::expect_metrics:
        return expect_metrics(s);
      case step_kind::stop:
        return stop(s);
    }
    return verdict::fail("a known step", "an unknown step");
  }

  std::chrono::nanoseconds within(const scenario_step& s) const {
    return s.within.count() > 0 ? s.within : options_.default_within;
  }

private:
  /// `fields` with `${actor.key}` and `{i}` resolved.
  result<value> resolve(const value& fields, std::uint64_t i) {
    if (fields.is_null())
      return value{value::map{}};
    auto lookup = [&](const std::string& actor,
                      const std::string& key) -> std::optional<std::string> {
      if (actor == "scenario" && key == "dir")
        return scenario_dir(scenario_);
      return announced_field(rt_, actor, key);
    };
    auto r = resolve_actor_placeholders(fields, lookup);
    if (!r)
      return r;
    return substitute_index(*r, i);
  }

  /// Sends a step's request (as a pipeline when its actor has a route) with `fields` (already
  /// resolved) and the step's context.
  value_future send(const scenario_step& s, const value& fields, std::uint64_t i,
                    std::chrono::nanoseconds timeout) {
    std::optional<context_scope> scope;
    if (s.context.is_map()) {
      auto ctx = context::current();
      auto resolved = resolve(s.context, i);
      if (resolved && resolved->is_map())
        for (auto& [k, v] : resolved->as_map())
          ctx = ctx.with(k, v);
      scope.emplace(std::move(ctx));
    }
    return rt_.route_from(s.to) ? rt_.submit_pipeline_value(s.to, s.request, fields, timeout)
                                : rt_.submit_value(s.to, s.request, fields, timeout);
  }

  /// The outcome of `f`, waited for up to `bound` (then `loop.timeout` from the runner).
  static result<value> outcome(value_future& f, std::chrono::nanoseconds bound) {
    if (!f.wait_for(bound))
      return error{errc::timeout, "no outcome within the step's bound (" + ms_text(bound) + ")"};
    return f.get();
  }

  verdict call(const scenario_step& s, std::uint64_t i) {
    auto fields = resolve(s.fields, i);
    if (!fields)
      return verdict::fail("fields whose placeholders resolve", fields.error().message());
    auto f = send(s, *fields, i, within(s));
    track(f);
    return check_outcome(s, outcome(f, within(s) + std::chrono::milliseconds(200)));
  }

  verdict submit(const scenario_step& s, std::uint64_t i) {
    auto fields = resolve(s.fields, i);
    if (!fields)
      return verdict::fail("fields whose placeholders resolve", fields.error().message());
    auto f = send(s, *fields, i, within(s));
    track(f);
    std::lock_guard<std::mutex> guard{mutex_};
    submitted_[substitute_index(value{s.name}, i).as_string()] = std::move(f);
    return verdict::pass();
  }

  verdict await(const scenario_step& s, std::uint64_t i) {
    value_future f;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      f = submitted_[substitute_index(value{s.name}, i).as_string()];
    }
    return check_outcome(s, outcome(f, within(s)));
  }

  verdict gather(const scenario_step& s, std::uint64_t i) {
    std::vector<value_future> fs;
    for (auto& item : s.steps) {
      auto fields = resolve(item.fields, i);
      if (!fields)
        return verdict::fail("fields whose placeholders resolve", fields.error().message());
      fs.push_back(send(item, *fields, i, within(s)));
      track(fs.back());
    }
    for (std::size_t k = 0; k < fs.size(); ++k) {
      auto got = outcome(fs[k], within(s));
      bool should_fail = static_cast<std::int64_t>(k) == s.fail_index;
      scenario_step expectation = s.steps[k];
      expectation.expect_error = should_fail ? s.expect_error : "";
      expectation.expect_message = should_fail ? s.expect_message : "";
      auto v = check_outcome(expectation, got);
      if (!v.ok)
        return verdict::fail("item " + std::to_string(k) + ": " + v.expected, v.actual);
    }
    return verdict::pass();
  }

  verdict wait_event(const scenario_step& s) {
    auto deadline = clock::now() + within(s);
    auto wanted = *parse_event_type(s.event);
    auto match = [&](const event& e, std::string& why) {
      if (type_of(e) != wanted || (!s.name.empty() && actor_of(e) != s.name))
        return false;
      return s.expect.is_null() || detail::matches(s.expect, event_value(e), "", why);
    };
    std::string last_why;
    std::lock_guard<std::mutex> guard{events_mutex_};
    for (auto it = backlog_.begin(); it != backlog_.end(); ++it)
      if (match(*it, last_why)) {
        backlog_.erase(it);
        return verdict::pass();
      }
    for (;;) {
      auto left = deadline - clock::now();
      if (left <= std::chrono::nanoseconds::zero())
        break;
      auto e = inbox_.next(left);
      if (!e)
        break;
      if (match(*e, last_why))
        return verdict::pass();
      backlog_.push_back(std::move(*e));
    }
    std::string seen;
    for (auto& e : backlog_)
      if (type_of(e) == wanted)
        seen += (seen.empty() ? "" : "; ") + to_string(e);
    return verdict::fail("a " + s.event + " event" + (s.name.empty() ? "" : " of " + s.name) +
                             (s.expect.is_null() ? "" : " matching " + s.expect.to_string()) +
                             " within " + ms_text(within(s)),
                         seen.empty()
                             ? "none came"
                             : "only: " + seen + (last_why.empty() ? "" : " (" + last_why + ")"));
  }

  verdict fault(const scenario_step& s, std::uint64_t i) {
    auto& f = s.fault;
    if (auto* kill = f.find("kill")) {
      auto r = rt_.kill_instance(
          kill->find("actor")->as_string(),
          kill->find("instance") ? static_cast<std::uint32_t>(kill->find("instance")->as_integer())
                                 : 0);
      return r ? verdict::pass() : verdict::fail("the instance killed", r.error().message());
    }
    if (auto* slow = f.find("slow")) {
      auto* d = slow->find("delay");
      std::chrono::nanoseconds delay{0};
      if (d && d->is_duration())
        delay = d->as_duration();
      else if (d && d->is_string())
        delay = parse_duration(d->as_string()).value_or(delay);
      auto r = rt_.slow_down(slow->find("actor")->as_string(), delay);
      return r ? verdict::pass() : verdict::fail("the actor slowed down", r.error().message());
    }
    if (auto* origin = f.find("origin")) {
      scenario_step set;
      set.to = origin->as_string();
      set.request = "set_faults";
      set.fields = value{{"faults", f.find("faults") ? *f.find("faults") : value{value::list{}}}};
      auto fut = send(set, set.fields, i, options_.default_within);
      auto got = outcome(fut, options_.default_within);
      return got ? verdict::pass()
                 : verdict::fail("the origin's faults set", got.error().message());
    }
    return verdict::fail("a fault", "nothing to inject");
  }

  verdict spawn(const scenario_step& s) {
    auto spec = s.spawn;
    if (!spec.params.is_null()) {
      auto params = resolve(spec.params, 0);
      if (!params)
        return verdict::fail("params whose placeholders resolve", params.error().message());
      spec.params = *params;
    }
    // Validated now; its start goes on in the background (wait_event ready / start_failed).
    auto r = rt_.spawn(spec);
    result<value> got = r ? result<value>{value{value::map{}}} : result<value>{r.error()};
    return check_outcome(s, got);
  }

  verdict stop_actor(const scenario_step& s) {
    auto f = rt_.stop_actor(s.name, within(s));
    if (!f.wait_for(within(s) + std::chrono::seconds(1)))
      return verdict::fail("stopped within " + ms_text(within(s)), "still stopping");
    auto ev = f.get();
    if (!ev)
      return verdict::fail("a stopped event", ev.error().message());
    std::string why;
    if (!s.expect.is_null() && !detail::matches(s.expect, to_value(*ev), "", why))
      return verdict::fail(s.expect.to_string(), why + " (" + to_value(*ev).to_string() + ")");
    return verdict::pass();
  }

  verdict parallel(const scenario_step& s, std::uint64_t i) {
    std::vector<verdict> results(s.steps.size());
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < s.steps.size(); ++k)
      threads.emplace_back([&, k] { results[k] = run(s.steps[k], i); });
    for (auto& t : threads)
      t.join();
    for (std::size_t k = 0; k < results.size(); ++k)
      if (!results[k].ok)
        return verdict::fail(s.steps[k].path + " (" + kind_name(s.steps[k].type) +
                                 "): " + results[k].expected,
                             results[k].actual);
    return verdict::pass();
  }

  verdict repeat(const scenario_step& s) {
    std::atomic<std::uint64_t> next{0};
    std::mutex failure_mutex;
    std::optional<verdict> failure;
    auto worker = [&] {
      for (auto i = next++; i < s.times; i = next++) {
        for (auto& step : s.steps) {
          auto v = run(step, i);
          if (!v.ok) {
            std::lock_guard<std::mutex> guard{failure_mutex};
            if (!failure) {
              failure = v;
              failure->expected = "iteration " + std::to_string(i) + ", " + step.path + " (" +
                                  kind_name(step.type) + "): " + v.expected;
            }
            next = s.times; // stop the others
            return;
          }
        }
      }
    };
    std::vector<std::thread> threads;
    for (std::uint32_t t = 1; t < s.concurrency; ++t)
      threads.emplace_back(worker);
    worker();
    for (auto& t : threads)
      t.join();
    return failure ? *failure : verdict::pass();
  }

  verdict stream(const scenario_step& s) {
    auto arg = [&](const char* key, std::int64_t fallback) {
      auto* v = s.args.find(key);
      return v && v->is_integer() ? v->as_integer() : fallback;
    };
    auto* close_flag = s.args.find("close");
    bool close = close_flag && close_flag->is_bool() ? close_flag->as_bool() : true;
    auto items = arg("items", 100);
    auto max_buffer = static_cast<std::size_t>(arg("max_buffer", 8));
    auto take = arg("take", items);
    auto produced = std::make_shared<std::atomic<std::int64_t>>(0);
    auto destroyed = std::make_shared<std::atomic<bool>>(false);
    auto st = rt_.stream(counting_generator{items, produced, destroyed}, max_buffer);
    std::int64_t taken = 0;
    bool in_order = true;
    bool ended = false;
    while (taken < take) {
      auto item = st.next(within(s));
      if (!item)
        return verdict::fail("item " + std::to_string(taken), item.error().message());
      if (!item->has_value()) {
        ended = true;
        break;
      }
      in_order = in_order && **item == taken;
      ++taken;
    }
    if (close)
      st.close();
    // Closing destroys the generator promptly (its cleanup runs) and stops production.
    auto deadline = clock::now() + within(s);
    while (close && !destroyed->load() && clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    value got{{"taken", taken},
              {"produced", produced->load()},
              {"max_lead", static_cast<std::int64_t>(st.max_lead())},
              {"in_order", in_order},
              {"ended", ended},
              {"producer_stopped", destroyed->load()},
              {"produced_within_bound",
               produced->load() <= taken + static_cast<std::int64_t>(max_buffer)}};
    if (static_cast<std::size_t>(st.max_lead()) > max_buffer)
      return verdict::fail("the producer at most max_buffer (" + std::to_string(max_buffer) +
                               ") ahead",
                           got.to_string());
    std::string why;
    if (!s.expect.is_null() && !detail::matches(s.expect, got, "", why))
      return verdict::fail(s.expect.to_string(), why + " (" + got.to_string() + ")");
    return verdict::pass();
  }

  verdict offload(const scenario_step& s) {
    auto* work_v = s.args.find("work");
    auto work = work_v ? work_v->as_string() : "sleep";
    auto* times_v = s.args.find("times");
    auto times = times_v && times_v->is_integer() ? times_v->as_integer() : 1;
    auto* duration_v = s.args.find("duration");
    std::chrono::nanoseconds duration{0};
    if (duration_v && duration_v->is_duration())
      duration = duration_v->as_duration();
    else if (duration_v && duration_v->is_string())
      duration = parse_duration(duration_v->as_string()).value_or(duration);
    auto* pool_v = s.args.find("pool");
    std::optional<blocking_pool> pool; // none: the runtime's default pool
    if (pool_v) {
      auto p = rt_.pool(pool_v->as_string());
      if (!p)
        return verdict::fail("a blocking pool", p.error().message());
      pool = *p;
    }
    scenario_step call_step;
    if (auto* c = s.args.find("call")) {
      call_step.to = c->find("to") ? c->find("to")->as_string() : "";
      call_step.request = c->find("request") ? c->find("request")->as_string() : "";
      call_step.fields = c->find("fields") ? *c->find("fields") : value{};
    }
    auto* separate_v = s.args.find("separate");
    bool separate = separate_v && separate_v->is_bool() && separate_v->as_bool();
    auto* rt = &rt_;
    std::vector<future<value>> fs;
    for (std::int64_t k = 0; k < times; ++k) {
      auto fn = [work, duration, call_step, rt](const cancel_token& token) -> value {
        if (work == "fail")
          throw std::runtime_error("the offloaded function failed on purpose");
        if (work == "call") { // sync_wait: a pool thread waits on the loop
          auto f =
              rt->submit_value(call_step.to, call_step.request,
                               call_step.fields.is_null() ? value{value::map{}} : call_step.fields);
          auto r = f.get();
          if (!r)
            throw std::runtime_error("the call from the pool failed: " + r.error().message());
          return *r;
        }
        auto until = clock::now() + duration;
        while (clock::now() < until && !token.cancelled())
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        return value{{"slept", duration}};
      };
      fs.push_back(separate ? rt_.offload_separate(fn)
                   : pool   ? pool->with_timeout(within(s)).offload(fn)
                            : rt_.offload(fn));
    }
    for (auto& f : fs) {
      if (!f.wait_for(within(s) + std::chrono::milliseconds(500)))
        return verdict::fail("an outcome within " + ms_text(within(s)), "none");
      auto got = f.get();
      auto v = check_outcome(s, got);
      if (!v.ok)
        return v;
    }
    return verdict::pass();
  }

  verdict expect_metrics(const scenario_step& s) {
    auto deadline = clock::now() + within(s);
    std::string why;
    value last;
    for (;;) {
      for (auto& m : rt_.metrics())
        if (m.name == s.name)
          last = metrics_value(m);
      why.clear();
      if (detail::matches(s.expect, last, "", why))
        return verdict::pass();
      if (clock::now() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return verdict::fail(s.expect.to_string() + " within " + ms_text(within(s)),
                         why + " (" + last.to_string() + ")");
  }

  verdict stop(const scenario_step& s) {
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
    std::string why;
    if (!s.expect.is_null() && !detail::matches(s.expect, got, "", why))
      return verdict::fail(s.expect.to_string(), why + " (" + got.to_string() + ")");
    return verdict::pass();
  }

  void track(const value_future& f) {
    std::lock_guard<std::mutex> guard{mutex_};
    all_.push_back(f);
  }

  const config::scenario& scenario_;
  runtime& rt_;
  const run_options& options_;
  event_inbox inbox_;
  std::mutex events_mutex_;
  std::vector<event> backlog_;
  std::mutex mutex_;
  std::map<std::string, value_future> submitted_;
  std::vector<value_future> all_;
};

std::string step_label(const scenario_step& s) {
  std::string label = s.path + " " + kind_name(s.type);
  switch (s.type) {
    case step_kind::call:
    case step_kind::submit:
      label += " " + s.to + " (" + s.request + ")";
      break;
    case step_kind::await:
    case step_kind::stop_actor:
    case step_kind::expect_metrics:
      label += " " + s.name;
      break;
    case step_kind::wait_event:
      label += " " + s.event + (s.name.empty() ? "" : " of " + s.name);
      break;
    case step_kind::spawn:
      label += " " + s.spawn.name + " (" + s.spawn.kind + ")";
      break;
    case step_kind::repeat:
      label += " x" + std::to_string(s.times) + " (" + std::to_string(s.concurrency) + " at once)";
      break;
    default:
      break;
  }
  return label;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

} // namespace

bool scenario_result::passed() const {
  return !steps.empty() && first_failure() == nullptr;
}

const step_result* scenario_result::first_failure() const {
  for (auto& s : steps)
    if (!s.passed)
      return &s;
  return nullptr;
}

scenario_result run_scenario(const config::scenario& s, const kind_registry& kinds,
                             const run_options& options) {
  scenario_result out;
  out.file = s.source;
  out.title = s.title;
  out.covers = s.covers;
  auto t_begin = clock::now();
  auto emit = [&](step_result r) {
    out.steps.push_back(std::move(r));
    if (options.on_step)
      options.on_step(out.steps.back());
    return out.steps.back().passed;
  };
  // `${scenario.dir}` in actor params: the scenario file's directory (for an origin's root).
  auto topo = s.topo;
  auto dir = scenario_dir(s);
  for (auto& a : topo.actors) {
    auto params = resolve_actor_placeholders(
        a.params,
        [&](const std::string& actor, const std::string& key) -> std::optional<std::string> {
          if (actor == "scenario" && key == "dir")
            return dir;
          return std::nullopt;
        });
    if (params)
      a.params = std::move(*params);
  }
  runtime rt{kinds, topo.runtime};
  runner r{s, rt, options};
  {
    step_result start;
    start.label = "start the topology (" + std::to_string(s.topo.actors.size()) + " actors)";
    start.where = s.source;
    auto t0 = clock::now();
    auto started = rt.start(topo);
    start.took = clock::now() - t0;
    start.passed = started.ok();
    if (!started) {
      start.expected = "every actor ready";
      start.actual = started.error().message();
    }
    if (!emit(std::move(start))) {
      out.took = clock::now() - t_begin;
      return out;
    }
  }
  for (auto& step : s.steps) {
    step_result res;
    res.label = step_label(step);
    res.where = step.where;
    auto t0 = clock::now();
    verdict v;
    try {
      v = r.run(step, 0);
    } catch (const std::exception& e) {
      v = verdict::fail("the step to run", std::string{"it threw: "} + e.what());
    }
    res.took = clock::now() - t0;
    // A bounded step that returned late failed, even if its outcome was right.
    auto bound = r.within(step) + std::chrono::milliseconds(500);
    if (v.ok && step.within.count() > 0 && res.took > bound && step.type != step_kind::repeat &&
        step.type != step_kind::parallel)
      v = verdict::fail("done within " + ms_text(step.within), "took " + ms_text(res.took));
    res.passed = v.ok;
    res.expected = v.expected;
    res.actual = v.actual;
    if (!emit(std::move(res)))
      break;
  }
  rt.stop();
  out.took = clock::now() - t_begin;
  return out;
}

scenario_result run_scenario_file(const std::string& path, const kind_registry& kinds,
                                  const run_options& options) {
  auto loaded = config::load_scenario(path, kinds);
  if (!loaded) {
    scenario_result out;
    out.file = path;
    step_result load;
    load.label = "load the scenario";
    load.where = path;
    load.expected = "a valid scenario file";
    load.actual = std::to_string(loaded.problems.size()) + " problem(s):\n" + loaded.report();
    out.steps.push_back(load);
    if (options.on_step)
      options.on_step(out.steps.back());
    return out;
  }
  return run_scenario(*loaded.scenario, kinds, options);
}

std::string format_step(const step_result& r) {
  std::string line = std::string{r.passed ? "PASS " : "FAIL "} + r.label + "  " + ms_text(r.took);
  if (!r.passed) {
    line += "\n       at " + r.where;
    line += "\n       expected: " + r.expected;
    line += "\n       actual:   " + r.actual;
  }
  return line;
}

std::string junit_xml(const std::vector<scenario_result>& results) {
  std::size_t failures = 0;
  double total = 0;
  for (auto& r : results) {
    failures += r.passed() ? 0 : 1;
    total += std::chrono::duration<double>(r.took).count();
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  char head[256];
  std::snprintf(head, sizeof head,
                "<testsuite name=\"loopbridge scenarios\" tests=\"%zu\" failures=\"%zu\" "
                "errors=\"0\" time=\"%.3f\">\n",
                results.size(), failures, total);
  out += head;
  for (auto& r : results) {
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", std::chrono::duration<double>(r.took).count());
    out += "  <testcase classname=\"" + xml_escape(r.file) + "\" name=\"" +
           xml_escape(r.title.empty() ? r.file : r.title) + "\" time=\"" + time + "\"";
    if (auto* f = r.first_failure()) {
      out +=
          ">\n    <failure message=\"" + xml_escape(f->label) + "\">" +
          xml_escape("at " + f->where + "\nexpected: " + f->expected + "\nactual: " + f->actual) +
          "</failure>\n  </testcase>\n";
    } else {
      out += "/>\n";
    }
  }
  out += "</testsuite>\n";
  return out;
}

} // namespace loopbridge::testing
