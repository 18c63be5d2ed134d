#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loopbridge/metrics.hpp"
#include "loopbridge/shutdown_report.hpp"
#include "loopbridge/tools/workload.hpp"

namespace loopbridge::cli {

/// What `loopbridge run` and `demo` report when they end: the workload's outcome and each
/// stage's counters, as a table for people and as JSON for scripts.
struct run_summary {
  std::string title;
  tools::workload_result workload;
  std::vector<actor_metrics> stages;
  /// Set when Ctrl-C stopped the run early.
  bool interrupted = false;
  /// Requests cancelled or stopped by the shutdown, across actors.
  std::uint64_t cancelled = 0;
  std::vector<std::string> stuck;

  /// 0 every request succeeded, 1 some failed, 130 interrupted.
  int exit_code() const;
  std::string table() const;
  std::string json() const;
};

/// Builds the summary from a finished workload and the runtime's state after its stop.
run_summary summarize(std::string title, tools::workload_result w,
                      std::vector<actor_metrics> stages, const shutdown_report& stop,
                      bool interrupted);

} // namespace loopbridge::cli
