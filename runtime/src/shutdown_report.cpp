#include "loopbridge/shutdown_report.hpp"

#include "loopbridge/params.hpp"

namespace loopbridge {

bool shutdown_report::clean() const noexcept {
  return stuck.empty() && !loop_stuck && cancelled() == 0;
}

std::uint64_t shutdown_report::cancelled() const noexcept {
  std::uint64_t n = 0;
  for (auto& a : actors)
    n += a.cancelled;
  return n;
}

std::string shutdown_report::to_string() const {
  std::string s = "shutdown took " + format_duration(took) + "\n";
  for (auto& a : actors)
    s += "  " + a.actor + ": completed " + std::to_string(a.completed) + ", cancelled " +
         std::to_string(a.cancelled) + " (" + a.reason.message() + ")\n";
  if (retired > 0)
    s += "  (" + std::to_string(retired) + " actors stopped and were retired earlier)\n";
  for (auto& line : stuck)
    s += "  stuck: " + line + "\n";
  return s;
}

} // namespace loopbridge
