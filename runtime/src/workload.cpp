#include "loopbridge/workload.hpp"

#include <algorithm>

#include "loopbridge/completion_queue.hpp"
#include "loopbridge/runtime.hpp"

namespace loopbridge {

double workload_result::throughput() const noexcept {
  auto secs = std::chrono::duration<double>(elapsed).count();
  return secs > 0 ? static_cast<double>(succeeded + failed) / secs : 0.0;
}

value substitute_index(const value& v, std::uint64_t i) {
  if (v.is_string()) {
    auto s = v.as_string();
    auto idx = std::to_string(i);
    for (auto pos = s.find("{i}"); pos != std::string::npos; pos = s.find("{i}", pos + idx.size()))
      s.replace(pos, 3, idx);
    return value{s};
  }
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
  const value* generated = w.generate.find("fields");
  auto fields_of = [&](std::uint64_t i) -> value {
    if (!w.requests.empty())
      return w.requests[i % w.requests.size()];
    return generated ? substitute_index(*generated, i) : value{};
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
  // One completion queue per wave of slots (a future is watched by one queue only).
  auto queue = std::make_unique<completion_queue>();
  std::vector<std::size_t> token_slot;
  auto stopped = [&] { return options.stop && options.stop->load(std::memory_order_relaxed); };
  while (true) {
    while (!free_slots.empty() && next < w.total && !stopped()) {
      auto s = free_slots.back();
      free_slots.pop_back();
      auto fields = fields_of(next);
      slots[s].future = pipeline ? rt.submit_pipeline_value(w.entry, w.request, fields, w.timeout)
                                 : rt.submit_value(w.entry, w.request, fields, w.timeout);
      slots[s].index = next++;
      slots[s].sent = clock::now();
      if (auto token = queue->watch_state_of(slots[s].future.state().get()); token) {
        if (token_slot.size() <= *token)
          token_slot.resize(*token + 1);
        token_slot[*token] = s;
      }
      ++in_flight;
      ++result.submitted;
    }
    if (stopped() && next < w.total)
      result.interrupted = true;
    if (in_flight == 0)
      break;
    auto until = options.on_progress ? next_progress : clock::now() + std::chrono::seconds(1);
    auto token = queue->pop(std::max(until - clock::now(), clock::duration{0}));
    auto now = clock::now();
    if (options.on_progress && now >= next_progress) {
      options.on_progress(workload_progress{w.total, result.succeeded + result.failed,
                                            result.failed, in_flight, now - t0});
      next_progress = now + options.progress_interval;
    }
    if (!token)
      continue;
    auto s = token_slot[*token];
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
    // Completion queues grow with every watch: start a fresh one once it has been drained.
    if (in_flight == 0 && queue->watched() > 4096) {
      queue = std::make_unique<completion_queue>();
      token_slot.clear();
    }
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
