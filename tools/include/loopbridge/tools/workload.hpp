#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/result.hpp"
#include "loopbridge/topology.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {
class runtime;
} // namespace loopbridge

/// Workloads: a topology's `workload` section (or one built by hand) driven through a runtime,
/// and the templating its fields use. Driven from one host thread; see `run_workload`.
namespace loopbridge::tools {

/// How one request of a workload ended.
struct request_outcome {
  std::uint64_t index = 0;
  bool ok = false;
  /// `domain.code` of the error, empty when ok.
  std::string error;
  std::string message;
  std::chrono::nanoseconds latency{0};
};

/// A snapshot while a workload runs, for progress displays.
struct workload_progress {
  std::uint64_t total = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t in_flight = 0;
  std::chrono::nanoseconds elapsed{0};
};

/// What a workload did.
struct workload_result {
  std::uint64_t total = 0;     ///< requests the workload declared
  std::uint64_t submitted = 0; ///< requests actually sent
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  /// True if it was stopped early (`workload_options::stop`).
  bool interrupted = false;
  std::map<std::string, std::uint64_t> errors_by_code;
  std::chrono::nanoseconds elapsed{0};
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p99{0};
  /// One per request sent, in completion order (when `keep_outcomes`).
  std::vector<request_outcome> outcomes;
  /// Why the workload could not start (an unresolvable placeholder); nothing was sent then.
  std::string error;

  double throughput() const noexcept;
};

struct workload_options {
  /// Called on the calling thread about every `progress_interval` while the workload runs.
  std::function<void(const workload_progress&)> on_progress;
  std::chrono::milliseconds progress_interval{500};
  /// When set to true (from any thread, e.g. a signal handler), no further request is sent; the
  /// ones in flight are still awaited (their outcomes count).
  const std::atomic<bool>* stop = nullptr;
  bool keep_outcomes = true;
};

/// The fields of request `i` of a generated workload: in every string, `{i}` replaced by `i` and
/// `{i%N}` by `i % N`.
value substitute_index(const value& fields, std::uint64_t i);

/// Replaces every `${actor.key}` in the strings of `v` with `lookup(actor, key)`; a string that
/// is exactly one placeholder whose value is a whole number becomes that integer
/// (`${origin.port}`). Returns the first placeholder `lookup` cannot resolve (as an error message)
/// instead, if any.
result<value> resolve_actor_placeholders(
    const value& v,
    const std::function<std::optional<std::string>(const std::string& actor,
                                                   const std::string& key)>& lookup);

/// Field `key` of what actor `name` announced when it became ready (`ready_info`), as text;
/// nullopt if there is no such actor or field. The lookup `${actor.key}` placeholders use.
std::optional<std::string> announced_field(const runtime& rt, const std::string& name,
                                           const std::string& key);

/// Drives `w` through `rt`: sends its requests (listed or generated) to its entry actor — as
/// pipelines when the entry has a route — keeping `w.concurrency` in flight, until `w.total`
/// were sent and answered. Blocks the calling thread; returns every request's outcome.
workload_result run_workload(runtime& rt, const workload_spec& w,
                             const workload_options& options = {});

} // namespace loopbridge::tools
