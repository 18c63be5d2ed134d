// `shutdown_report`: its totals and text form.
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

std::uint64_t shutdown_report::completed() const noexcept {
  std::uint64_t n = 0;
  for (auto& a : actors)
    n += a.completed;
  return n;
}

std::string shutdown_report::to_string() const {
  std::string s = "shutdown took " + readable_duration(took) + (clean() ? " (clean)" : "") + "\n";
  for (auto& a : actors) {
    s += "  " + a.actor + ": its stop completed " + std::to_string(a.completed) + ", failed " +
         std::to_string(a.failed) + ", cancelled " + std::to_string(a.cancelled);
    if (a.abandoned > 0)
      s += " (" + std::to_string(a.abandoned) + " still running)";
    s += "; in all received " + std::to_string(a.total_received) + ", completed " +
         std::to_string(a.total_completed) + ", failed " + std::to_string(a.total_failed) +
         ", cancelled " + std::to_string(a.total_cancelled) + " (" + a.reason.message() + ")\n";
  }
  if (retired > 0)
    s += "  (" + std::to_string(retired) + " actors stopped and were retired earlier)\n";
  for (auto& line : stuck)
    s += "  stuck: " + line + "\n";
  return s;
}

} // namespace loopbridge
