#include "loopbridge/workload.hpp"

#include <algorithm>

#include "loopbridge/completion_queue.hpp"
#include "loopbridge/context.hpp"
#include "loopbridge/runtime.hpp"

namespace loopbridge {

double workload_result::throughput() const noexcept {
  auto secs = std::chrono::duration<double>(elapsed).count();
  return secs > 0 ? static_cast<double>(succeeded + failed) / secs : 0.0;
}

namespace {

/// `{i}` and `{i%N}` in `s`, replaced.
std::string expand_index(const std::string& s, std::uint64_t i) {
  std::string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto open = s.find("{i", pos);
    if (open == std::string::npos || (open > 0 && s[open - 1] == '$')) {
      auto stop = open == std::string::npos ? s.size() : open + 2;
      out.append(s, pos, stop - pos);
      pos = stop;
      continue;
    }
    out.append(s, pos, open - pos);
    auto close = s.find('}', open);
    auto inner = close == std::string::npos ? std::string{} : s.substr(open + 1, close - open - 1);
    std::uint64_t modulo = 0;
    if (inner == "i") {
      out += std::to_string(i);
    } else if (inner.rfind("i%", 0) == 0 && inner.size() > 2 && inner.size() <= 20 &&
               inner.find_first_not_of("0123456789", 2) == std::string::npos &&
               (modulo = std::stoull(inner.substr(2))) > 0) {
      out += std::to_string(i % modulo);
    } else { // not a placeholder: keep it
      out += "{i";
      pos = open + 2;
      continue;
    }
    pos = close + 1;
  }
  return out;
}

} // namespace

result<value> resolve_actor_placeholders(
    const value& v,
    const std::function<std::optional<std::string>(const std::string&, const std::string&)>&
        lookup) {
  if (v.is_string()) {
    auto s = v.as_string();
    for (auto pos = s.find("${"); pos != std::string::npos; pos = s.find("${", pos)) {
      auto close = s.find('}', pos);
      auto dot = s.find('.', pos);
      if (close == std::string::npos || dot == std::string::npos || dot > close)
        return error{errc::bad_request,
                     quote(s.substr(pos)) + " is not a placeholder of the form ${actor.key}"};
      auto actor = s.substr(pos + 2, dot - pos - 2);
      auto key = s.substr(dot + 1, close - dot - 1);
      auto found = lookup(actor, key);
      if (!found)
        return error{errc::bad_request, quote("${" + actor + "." + key + "}") + ": actor " +
                                            quote(actor) + " announced no " + quote(key) +
                                            " when it became ready"};
      bool whole = pos == 0 && close + 1 == s.size();
      s.replace(pos, close - pos + 1, *found);
      pos += found->size();
      // A string that is exactly one placeholder takes a whole number's type (a port).
      if (whole && !s.empty() && s.size() < 19 &&
          s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string::npos && s != "-")
        return value{static_cast<std::int64_t>(std::stoll(s))};
    }
    return value{s};
  }
  if (v.is_list()) {
    value::list l;
    for (auto& e : v.as_list()) {
      auto r = resolve_actor_placeholders(e, lookup);
      if (!r)
        return r;
      l.push_back(std::move(*r));
    }
    return value{std::move(l)};
  }
  if (v.is_map()) {
    value::map m;
    for (auto& [k, e] : v.as_map()) {
      auto r = resolve_actor_placeholders(e, lookup);
      if (!r)
        return r;
      m.emplace(k, std::move(*r));
    }
    return value{std::move(m)};
  }
  return v;
}

std::optional<std::string> announced_field(const runtime& rt, const std::string& name,
                                           const std::string& key) {
  auto info = rt.ready_info(name);
  if (!info)
    return std::nullopt;
  auto* v = info->find(key);
  if (!v || v->is_null())
    return std::nullopt;
  return v->is_string() ? v->as_string() : v->to_string();
}

value substitute_index(const value& v, std::uint64_t i) {
  if (v.is_string())
    return value{expand_index(v.as_string(), i)};
  if (v.is_list()) {
    value::list l;
    for (auto& e : v.as_list())
      l.push_back(substitute_index(e, i));
    return value{std::move(l)};
  }
  if (v.is_map()) {
    value::map m;
    for (auto& [k, e] : v.as_map())
      m.emplace(k, substitute_index(e, i));
    return value{std::move(m)};
  }
  return v;
}

workload_result run_workload(runtime& rt, const workload_spec& w, const workload_options& options) {
  using clock = std::chrono::steady_clock;
  workload_result result;
  result.total = w.total;
  auto pipeline = rt.route_from(w.entry).has_value();
  // `${actor.key}` placeholders name what running actors announced: resolve them once.
  auto lookup = [&](const std::string& actor, const std::string& key) {
    return announced_field(rt, actor, key);
  };
  value generated_fields, context_fields;
  std::vector<value> listed;
  for (auto& r : w.requests) {
    auto resolved = resolve_actor_placeholders(r, lookup);
    if (!resolved) {
      result.error = "workload: " + resolved.error().message();
      return result;
    }
    listed.push_back(std::move(*resolved));
  }
  for (auto [from, to] : {std::pair{w.generate.find("fields"), &generated_fields},
                          std::pair{static_cast<const value*>(&w.context), &context_fields}}) {
    if (!from || from->is_null())
      continue;
    auto resolved = resolve_actor_placeholders(*from, lookup);
    if (!resolved) {
      result.error = "workload: " + resolved.error().message();
      return result;
    }
    *to = std::move(*resolved);
  }
  auto fields_of = [&](std::uint64_t i) -> value {
    if (!listed.empty())
      return listed[i % listed.size()];
    return generated_fields.is_null() ? value{} : substitute_index(generated_fields, i);
  };
  struct slot {
    value_future future;
    std::uint64_t index = 0;
    clock::time_point sent;
  };
  std::vector<slot> slots(std::max<std::uint32_t>(1, w.concurrency));
  std::vector<std::size_t> free_slots;
  for (std::size_t s = slots.size(); s > 0; --s)
    free_slots.push_back(s - 1);
  std::vector<double> latencies;
  auto t0 = clock::now();
  auto next_progress = t0 + options.progress_interval;
  std::uint64_t next = 0, in_flight = 0;
  // One queue for the whole run: each request is watched under its slot's number, and the
  // queue's memory follows the requests in flight.
  completion_queue queue;
  auto stopped = [&] { return options.stop && options.stop->load(std::memory_order_relaxed); };
  while (true) {
    while (!free_slots.empty() && next < w.total && !stopped()) {
      auto s = free_slots.back();
      free_slots.pop_back();
      auto fields = fields_of(next);
      std::optional<context_scope> scope; // the request's context fields, if the workload has any
      if (context_fields.is_map()) {
        auto ctx = context::current();
        auto fields_now = substitute_index(context_fields, next); // outlives the loop below
        for (auto& [k, v] : fields_now.as_map())
          ctx = ctx.with(k, v);
        scope.emplace(std::move(ctx));
      }
      slots[s].future = pipeline ? rt.submit_pipeline_value(w.entry, w.request, fields, w.timeout)
                                 : rt.submit_value(w.entry, w.request, fields, w.timeout);
      slots[s].index = next++;
      slots[s].sent = clock::now();
      (void)queue.watch_state_of(slots[s].future.state().get(), s); // a fresh future: watchable
      ++in_flight;
      ++result.submitted;
    }
    if (stopped() && next < w.total)
      result.interrupted = true;
    if (in_flight == 0)
      break;
    auto until = options.on_progress ? next_progress : clock::now() + std::chrono::seconds(1);
    auto token = queue.pop(std::max(until - clock::now(), clock::duration{0}));
    auto now = clock::now();
    if (options.on_progress && now >= next_progress) {
      options.on_progress(workload_progress{w.total, result.succeeded + result.failed,
                                            result.failed, in_flight, now - t0});
      next_progress = now + options.progress_interval;
    }
    if (!token)
      continue;
    auto s = *token;
    auto r = slots[s].future.get();
    request_outcome o;
    o.index = slots[s].index;
    o.ok = r.ok();
    o.latency = now - slots[s].sent;
    latencies.push_back(static_cast<double>(o.latency.count()));
    if (o.ok) {
      ++result.succeeded;
    } else {
      ++result.failed;
      o.error = r.error().name();
      o.message = r.error().message();
      ++result.errors_by_code[o.error];
    }
    if (options.keep_outcomes)
      result.outcomes.push_back(std::move(o));
    --in_flight;
    free_slots.push_back(s);
  }
  result.elapsed = clock::now() - t0;
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) {
      return std::chrono::nanoseconds{static_cast<std::int64_t>(
          latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))])};
    };
    result.p50 = at(0.5);
    result.p99 = at(0.99);
  }
  if (options.on_progress)
    options.on_progress(workload_progress{w.total, result.succeeded + result.failed, result.failed,
                                          0, result.elapsed});
  return result;
}

} // namespace loopbridge
