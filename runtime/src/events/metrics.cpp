// Metrics: snapshots of every actor's counters, in start order.
#include "runtime_core.hpp"

#include <algorithm>

namespace loopbridge::detail {

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
  m.sent = c.sent.load(std::memory_order_relaxed);
  m.suspended = static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, c.suspended.load(std::memory_order_relaxed)));
  m.p50 = c.latency.quantile(0.5);
  m.p99 = c.latency.quantile(0.99);
  return m;
}

} // namespace loopbridge::detail
