// Loading each type of scenario step from its keyword's value and the modifiers beside it.
#include "scenario_loader.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> event_types = {"ready", "done", "stopped", "restarted",
                                              "start_failed"};

} // namespace

step_action scenario_loader::load_action(const std::string& keyword, const YAML::Node& v,
                                         const std::string& p, const step_modifiers& m) {
  if (keyword == call_step::keyword)
    return load_call(v, p, m);
  if (keyword == submit_step::keyword)
    return load_submit(v, p, m);
  if (keyword == await_step::keyword)
    return load_await(v, p, m);
  if (keyword == gather_step::keyword)
    return load_gather(v, p, m);
  if (keyword == wait_event_step::keyword)
    return load_wait_event(v, p, m);
  if (keyword == fault_step::keyword)
    return load_fault(v, p);
  if (keyword == spawn_step::keyword)
    return load_spawn(v, p, m);
  if (keyword == stop_actor_step::keyword)
    return load_stop_actor(v, p, m);
  if (keyword == parallel_step::keyword)
    return load_parallel(v, p);
  if (keyword == repeat_step::keyword)
    return load_repeat(v, p);
  if (keyword == stream_step::keyword)
    return load_stream(v, p, m);
  if (keyword == offload_step::keyword)
    return load_offload(v, p, m);
  if (keyword == expect_metrics_step::keyword)
    return load_expect_metrics(v, p, m);
  return load_stop(v, p, m);
}

call_step scenario_loader::load_call(const YAML::Node& v, const std::string& p,
                                     const step_modifiers& m) {
  return {load_request(v, p), m.expect, m.expect_error, m.expect_message, m.within};
}

submit_step scenario_loader::load_submit(const YAML::Node& v, const std::string& p,
                                         const step_modifiers& m) {
  return {load_request(v, p), m.as};
}

await_step scenario_loader::load_await(const YAML::Node& v, const std::string& p,
                                       const step_modifiers& m) {
  await_step step{{}, m.expect, m.expect_error, m.expect_message, m.within};
  if (auto s = yaml_.string(v, p)) {
    step.name = *s;
    if (!submitted(*s)) {
      auto suggestion = did_you_mean(*s, {submitted_.begin(), submitted_.end()});
      yaml_.add(v, p, "no earlier submit is named " + quote(*s),
                suggestion.empty() ? "name a submit with 'as'" : suggestion);
    }
  }
  return step;
}

gather_step scenario_loader::load_gather(const YAML::Node& v, const std::string& p,
                                         const step_modifiers& m) {
  gather_step step{{}, m.at, m.expect_error, m.expect_message, m.within};
  if (yaml_.expect_list(v, p, "a list of requests ({to, request, fields})"))
    for (std::size_t i = 0; i < v.size(); ++i)
      step.requests.push_back(load_request(v[i], index(p, i)));
  return step;
}

wait_event_step scenario_loader::load_wait_event(const YAML::Node& v, const std::string& p,
                                                 const step_modifiers& m) {
  wait_event_step step{{}, {}, m.expect, m.within};
  if (yaml_.expect_map(v, p, "a map with type and actor"))
    for (auto& [key, e] : yaml_.entries(v, p, {"type", "actor"})) {
      if (key == "type")
        step.event = yaml_.choice(e, join(p, key), event_types).value_or("");
      else
        step.actor = known_actor(e, join(p, key));
    }
  if (step.event.empty() && v.IsMap() && !v["type"])
    yaml_.require(false, v, p, "type");
  return step;
}

fault_step scenario_loader::load_fault(const YAML::Node& v, const std::string& p) {
  if (!yaml_.expect_map(v, p, "a fault: {kill: ..}, {slow: ..} or {origin: .., faults: [..]}"))
    return {};
  for (auto& [key, e] : yaml_.entries(v, p, {"kill", "slow", "origin", "faults"})) {
    auto kp = join(p, key);
    if (key == "kill" || key == "slow") {
      if (yaml_.expect_map(e, kp, key == "kill" ? "{actor, instance}" : "{actor, delay}"))
        for (auto& [k, f] : yaml_.entries(e, kp, {"actor", key == "kill" ? "instance" : "delay"})) {
          if (k == "actor")
            known_actor(f, join(kp, k));
          else if (k == "instance")
            yaml_.integer(f, join(kp, k), 0, 100000);
          else
            yaml_.duration(f, join(kp, k), true);
        }
    } else if (key == "origin") {
      known_actor(e, kp);
    } else {
      yaml_.expect_list(e, kp, "a list of origin faults ({path, status, delay, ...})");
    }
  }
  return {yaml_.to_value(v, p)};
}

spawn_step scenario_loader::load_spawn(const YAML::Node& v, const std::string& p,
                                       const step_modifiers& m) {
  spawn_step step{{}, m.expect_error, m.expect_message, m.within};
  if (!yaml_.expect_map(v, p, "an actor: {name, kind, count, params}"))
    return step;
  auto& spec = step.actor;
  for (auto& [key, e] : yaml_.entries(v, p, {"name", "kind", "count", "params", "ready_timeout"})) {
    auto kp = join(p, key);
    if (key == "name") {
      spec.name = yaml_.string(e, kp).value_or("");
    } else if (key == "kind") {
      spec.kind = yaml_.string(e, kp).value_or("");
      if (!spec.kind.empty() && !kinds_.find(spec.kind)) {
        auto suggestion = did_you_mean(spec.kind, kinds_.names());
        yaml_.add(e, kp, "unknown kind " + quote(spec.kind), suggestion.empty() ? "" : suggestion);
      }
    } else if (key == "count") {
      spec.count = static_cast<std::uint32_t>(yaml_.integer(e, kp, 0, 10000).value_or(1));
    } else if (key == "params") {
      spec.params = yaml_.to_value(e, kp);
    } else if (auto d = yaml_.duration(e, kp, false)) {
      spec.ready_timeout = *d;
    }
  }
  yaml_.require(v["name"].IsDefined(), v, p, "name");
  yaml_.require(v["kind"].IsDefined(), v, p, "kind");
  if (!spec.name.empty())
    actors_[spec.name] = spec.kind;
  return step;
}

stop_actor_step scenario_loader::load_stop_actor(const YAML::Node& v, const std::string& p,
                                                 const step_modifiers& m) {
  stop_actor_step step{{}, m.expect, m.within};
  if (yaml_.string(v, p))
    step.actor = known_actor(v, p);
  return step;
}

parallel_step scenario_loader::load_parallel(const YAML::Node& v, const std::string& p) {
  if (!yaml_.expect_list(v, p, "a list of steps to run at once"))
    return {};
  return {load_steps(v, p)};
}

repeat_step scenario_loader::load_repeat(const YAML::Node& v, const std::string& p) {
  repeat_step step;
  if (!yaml_.expect_map(v, p, "a map with times, concurrency and steps"))
    return step;
  bool has_steps = false;
  for (auto& [key, e] : yaml_.entries(v, p, {"times", "concurrency", "steps"})) {
    auto kp = join(p, key);
    if (key == "times")
      step.times = static_cast<std::uint64_t>(yaml_.integer(e, kp, 1, 1000000).value_or(1));
    else if (key == "concurrency")
      step.concurrency = static_cast<std::uint32_t>(yaml_.integer(e, kp, 1, 1024).value_or(1));
    else if (yaml_.expect_list(e, kp, "a list of steps")) {
      has_steps = true;
      step.steps = load_steps(e, kp);
    }
  }
  yaml_.require(has_steps, v, p, "steps");
  return step;
}

stream_step scenario_loader::load_stream(const YAML::Node& v, const std::string& p,
                                         const step_modifiers& m) {
  stream_step step;
  step.expect = m.expect;
  step.within = m.within;
  if (!yaml_.expect_map(v, p, "a map with items, max_buffer, take and close"))
    return step;
  for (auto& [key, e] : yaml_.entries(v, p, {"items", "max_buffer", "take", "close"})) {
    auto kp = join(p, key);
    if (key == "close") {
      step.close = yaml_.boolean(e, kp).value_or(true);
      continue;
    }
    auto n = yaml_.integer(e, kp, key == "take" ? 0 : 1, 100000000);
    if (key == "items")
      step.items = n.value_or(step.items);
    else if (key == "max_buffer")
      step.max_buffer = static_cast<std::size_t>(n.value_or(8));
    else
      step.take = n;
  }
  return step;
}

offload_step scenario_loader::load_offload(const YAML::Node& v, const std::string& p,
                                           const step_modifiers& m) {
  offload_step step;
  step.expect = m.expect;
  step.expect_error = m.expect_error;
  step.expect_message = m.expect_message;
  step.within = m.within;
  if (!yaml_.expect_map(v, p, "a map with work, times and pool"))
    return step;
  for (auto& [key, e] :
       yaml_.entries(v, p, {"work", "times", "pool", "duration", "call", "separate"})) {
    auto kp = join(p, key);
    if (key == "work") {
      auto work = yaml_.choice(e, kp, {"sleep", "fail", "call"}).value_or("sleep");
      step.work = work == "fail"   ? offload_step::work_type::fail
                  : work == "call" ? offload_step::work_type::call
                                   : offload_step::work_type::sleep;
    } else if (key == "times") {
      step.times = yaml_.integer(e, kp, 1, 1000000).value_or(1);
    } else if (key == "pool") {
      step.pool = known_actor(e, kp);
    } else if (key == "duration") {
      step.duration = yaml_.duration(e, kp, true).value_or(step.duration);
    } else if (key == "separate") {
      step.separate = yaml_.boolean(e, kp).value_or(false);
    } else {
      // Checked like any request, but sent with the request's name as written: offload does
      // not fill in a kind's only request.
      step.call = load_request(e, kp);
      auto written = e.IsMap() ? e["request"] : YAML::Node{};
      step.call.request = written && written.IsScalar() ? written.Scalar() : "";
    }
  }
  if (!v["work"])
    yaml_.require(false, v, p, "work");
  return step;
}

expect_metrics_step scenario_loader::load_expect_metrics(const YAML::Node& v, const std::string& p,
                                                         const step_modifiers& m) {
  expect_metrics_step step{{}, m.expect, m.within};
  if (yaml_.string(v, p))
    step.actor = known_actor(v, p);
  return step;
}

stop_step scenario_loader::load_stop(const YAML::Node& v, const std::string& p,
                                     const step_modifiers& m) {
  // Its map may be empty (`stop: {}`); what it holds is not read.
  if (!v.IsNull())
    yaml_.expect_map(v, p, "a map (may be empty: stop: {})");
  return {m.expect, m.within};
}

} // namespace loopbridge::config::detail
