// Workload driving: requests built from templated fields, submitted with a bounded number in
// flight, and their outcomes, latencies and progress.
#include "loopbridge/tools/workload.hpp"

#include <algorithm>

#include "loopbridge/completion_queue.hpp"
#include "loopbridge/context.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/tools/value_requests.hpp"

namespace loopbridge::tools {

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

namespace {

/// The fields a workload's requests are made of, with `${actor.key}` placeholders resolved.
struct workload_fields {
  std::vector<value> listed; ///< the listed requests, taken in turn
  value generated;           ///< generated fields, with `{i}` placeholders
  value context;             ///< context fields, with `{i}` placeholders

  /// The fields of request number `i`.
  value request(std::uint64_t i) const {
    if (!listed.empty())
      return listed[i % listed.size()];
    return generated.is_null() ? value{} : substitute_index(generated, i);
  }
};

/// Resolves the `${actor.key}` placeholders of `w`'s fields once, from what running actors
/// announced.
result<workload_fields> resolve_fields(const runtime& rt, const workload_spec& w) {
  auto lookup = [&](const std::string& actor, const std::string& key) {
    return announced_field(rt, actor, key);
  };
  workload_fields f;
  for (auto& r : w.requests) {
    auto resolved = resolve_actor_placeholders(r, lookup);
    if (!resolved)
      return std::move(resolved).error();
    f.listed.push_back(std::move(*resolved));
  }
  for (auto [from, to] : {std::pair{w.generate.find("fields"), &f.generated},
                          std::pair{static_cast<const value*>(&w.context), &f.context}}) {
    if (!from || from->is_null())
      continue;
    auto resolved = resolve_actor_placeholders(*from, lookup);
    if (!resolved)
      return std::move(resolved).error();
    *to = std::move(*resolved);
  }
  return f;
}

/// One run of a workload on the calling thread: at most `concurrency` requests in flight, each
/// in a slot of its own, until `total` were submitted and all of them ended (or `stop` is set).
class workload_run {
public:
  workload_run(runtime& rt, const workload_spec& w, const workload_options& options,
               workload_fields fields)
      : rt_(rt),
        w_(w),
        options_(options),
        fields_(std::move(fields)),
        pipeline_(rt.route_from(w.entry).has_value()),
        slots_(std::max<std::uint32_t>(1, w.concurrency)) {
    result_.total = w.total;
    for (std::size_t s = slots_.size(); s > 0; --s)
      free_slots_.push_back(s - 1);
  }

  workload_result run() {
    t0_ = clock::now();
    next_progress_ = t0_ + options_.progress_interval;
    while (true) {
      fill_free_slots();
      if (stopped() && next_ < w_.total)
        result_.interrupted = true;
      if (in_flight_ == 0)
        break;
      await_one();
    }
    summarise();
    return std::move(result_);
  }

private:
  using clock = std::chrono::steady_clock;

  struct slot {
    value_future future;
    std::uint64_t index = 0;
    clock::time_point sent;
  };

  bool stopped() const { return options_.stop && options_.stop->load(std::memory_order_relaxed); }

  /// Submits the next requests into every free slot, unless all were submitted or stopped.
  void fill_free_slots() {
    while (!free_slots_.empty() && next_ < w_.total && !stopped()) {
      auto s = free_slots_.back();
      free_slots_.pop_back();
      submit_into(s);
    }
  }

  /// Submits request number `next_` into slot `s`, under its context fields if any.
  void submit_into(std::size_t s) {
    auto fields = fields_.request(next_);
    std::optional<context_scope> scope; // the request's context fields, if the workload has any
    if (fields_.context.is_map()) {
      auto ctx = context::current();
      auto fields_now = substitute_index(fields_.context, next_); // outlives the loop below
      for (auto& [k, v] : fields_now.as_map())
        ctx = ctx.with(k, v);
      scope.emplace(std::move(ctx));
    }
    slots_[s].future = pipeline_
                           ? submit_pipeline_value(rt_, w_.entry, w_.request, fields, w_.timeout)
                           : submit_value(rt_, w_.entry, w_.request, fields, w_.timeout);
    slots_[s].index = next_++;
    slots_[s].sent = clock::now();
    (void)queue_.watch_state_of(slots_[s].future.state().get(), s); // a fresh future: watchable
    ++in_flight_;
    ++result_.submitted;
  }

  /// Waits for one request to end (at most until the next progress report is due, or a
  /// second), reports progress when due, and records the request's outcome.
  void await_one() {
    auto until = options_.on_progress ? next_progress_ : clock::now() + std::chrono::seconds(1);
    auto token = queue_.pop(std::max(until - clock::now(), clock::duration{0}));
    auto now = clock::now();
    if (options_.on_progress && now >= next_progress_) {
      options_.on_progress(workload_progress{w_.total, result_.succeeded + result_.failed,
                                             result_.failed, in_flight_, now - t0_});
      next_progress_ = now + options_.progress_interval;
    }
    if (token)
      record_outcome(*token, now);
  }

  /// Counts the outcome of the request in slot `s`, which ended by `now`, and frees the slot.
  void record_outcome(std::size_t s, clock::time_point now) {
    auto r = slots_[s].future.get();
    request_outcome o;
    o.index = slots_[s].index;
    o.ok = r.ok();
    o.latency = now - slots_[s].sent;
    latencies_.push_back(static_cast<double>(o.latency.count()));
    if (o.ok) {
      ++result_.succeeded;
    } else {
      ++result_.failed;
      o.error = r.error().name();
      o.message = r.error().message();
      ++result_.errors_by_code[o.error];
    }
    if (options_.keep_outcomes)
      result_.outcomes.push_back(std::move(o));
    --in_flight_;
    free_slots_.push_back(s);
  }

  /// The run's elapsed time and latency quantiles, and the final progress report.
  void summarise() {
    result_.elapsed = clock::now() - t0_;
    if (!latencies_.empty()) {
      std::sort(latencies_.begin(), latencies_.end());
      auto at = [&](double q) {
        return std::chrono::nanoseconds{static_cast<std::int64_t>(
            latencies_[static_cast<std::size_t>(q * static_cast<double>(latencies_.size() - 1))])};
      };
      result_.p50 = at(0.5);
      result_.p99 = at(0.99);
    }
    if (options_.on_progress)
      options_.on_progress(workload_progress{w_.total, result_.succeeded + result_.failed,
                                             result_.failed, 0, result_.elapsed});
  }

  runtime& rt_;
  const workload_spec& w_;
  const workload_options& options_;
  const workload_fields fields_;
  const bool pipeline_;
  workload_result result_;
  std::vector<slot> slots_;
  std::vector<std::size_t> free_slots_;
  std::vector<double> latencies_;
  clock::time_point t0_;
  clock::time_point next_progress_;
  std::uint64_t next_ = 0;
  std::uint64_t in_flight_ = 0;
  /// One queue for the whole run: each request is watched under its slot's number, and the
  /// queue's memory follows the requests in flight.
  completion_queue queue_;
};

} // namespace

workload_result run_workload(runtime& rt, const workload_spec& w, const workload_options& options) {
  auto fields = resolve_fields(rt, w);
  if (!fields) {
    workload_result failed;
    failed.total = w.total;
    failed.error = "workload: " + fields.error().message();
    return failed;
  }
  return workload_run{rt, w, options, std::move(*fields)}.run();
}

} // namespace loopbridge::tools
