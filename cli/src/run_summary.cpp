#include "run_summary.hpp"

#include <cstdio>
#include <sstream>

#include "command.hpp"

namespace loopbridge::cli {

namespace {

std::string ms(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

/// `s` as a JSON string literal (quoted and escaped, as values print themselves).
std::string json_string(const std::string& s) {
  return value{s}.to_string();
}

double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

run_summary summarize(std::string title, tools::workload_result w,
                      std::vector<actor_metrics> stages, const shutdown_report& stop,
                      bool interrupted) {
  run_summary s;
  s.title = std::move(title);
  s.workload = std::move(w);
  s.stages = std::move(stages);
  s.interrupted = interrupted || s.workload.interrupted;
  s.cancelled = stop.cancelled();
  s.stuck = stop.stuck;
  return s;
}

int run_summary::exit_code() const {
  if (interrupted)
    return exit_interrupted;
  return workload.failed == 0 && workload.succeeded == workload.total ? exit_ok : exit_failed;
}

std::string run_summary::table() const {
  std::ostringstream out;
  char line[256];
  auto& w = workload;
  std::snprintf(line, sizeof line, "%s: %llu of %llu requests in %.2f s (%.1f/s)\n", title.c_str(),
                static_cast<unsigned long long>(w.succeeded + w.failed),
                static_cast<unsigned long long>(w.total), seconds(w.elapsed), w.throughput());
  out << line;
  std::snprintf(
      line, sizeof line, "  succeeded %llu, failed %llu, not sent %llu; latency p50 %s, p99 %s\n",
      static_cast<unsigned long long>(w.succeeded), static_cast<unsigned long long>(w.failed),
      static_cast<unsigned long long>(w.total - w.submitted), ms(w.p50).c_str(), ms(w.p99).c_str());
  out << line;
  if (interrupted)
    out << "  interrupted: stopped early; " << cancelled
        << " request(s) cancelled by the shutdown\n";
  if (!w.errors_by_code.empty()) {
    out << "  errors:";
    for (auto& [code, n] : w.errors_by_code)
      out << " " << code << " " << n << ";";
    out.seekp(-1, std::ios_base::end);
    out << "\n";
  }
  for (auto& s : stuck)
    out << "  left behind: " << s << "\n";
  std::snprintf(line, sizeof line, "\n  %-16s %-16s %5s %9s %7s %9s %8s %10s %10s\n", "stage",
                "kind", "count", "completed", "failed", "cancelled", "restarts", "p50", "p99");
  out << line;
  for (auto& m : stages) {
    std::snprintf(
        line, sizeof line, "  %-16s %-16s %5u %9llu %7llu %9llu %8llu %10s %10s\n", m.name.c_str(),
        m.kind.c_str(), m.instances, static_cast<unsigned long long>(m.completed),
        static_cast<unsigned long long>(m.failed), static_cast<unsigned long long>(m.cancelled),
        static_cast<unsigned long long>(m.restarts), ms(m.p50).c_str(), ms(m.p99).c_str());
    out << line;
  }
  return out.str();
}

std::string run_summary::json() const {
  std::ostringstream out;
  auto& w = workload;
  auto ns = [](std::chrono::nanoseconds d) { return std::to_string(d.count()); };
  out << "{\n  \"title\": " << json_string(title) << ",\n"
      << "  \"total\": " << w.total << ",\n"
      << "  \"submitted\": " << w.submitted << ",\n"
      << "  \"succeeded\": " << w.succeeded << ",\n"
      << "  \"failed\": " << w.failed << ",\n"
      << "  \"interrupted\": " << (interrupted ? "true" : "false") << ",\n"
      << "  \"cancelled\": " << cancelled << ",\n"
      << "  \"elapsed_ns\": " << ns(w.elapsed) << ",\n"
      << "  \"throughput_per_s\": " << w.throughput() << ",\n"
      << "  \"p50_ns\": " << ns(w.p50) << ",\n"
      << "  \"p99_ns\": " << ns(w.p99) << ",\n"
      << "  \"exit_code\": " << exit_code() << ",\n"
      << "  \"errors\": {";
  bool first = true;
  for (auto& [code, n] : w.errors_by_code) {
    out << (first ? "" : ", ") << json_string(code) << ": " << n;
    first = false;
  }
  out << "},\n  \"stuck\": [";
  first = true;
  for (auto& s : stuck) {
    out << (first ? "" : ", ") << json_string(s);
    first = false;
  }
  out << "],\n  \"stages\": [";
  first = true;
  for (auto& m : stages) {
    out << (first ? "\n" : ",\n") << "    {\"name\": " << json_string(m.name)
        << ", \"kind\": " << json_string(m.kind) << ", \"instances\": " << m.instances
        << ", \"received\": " << m.received << ", \"completed\": " << m.completed
        << ", \"failed\": " << m.failed << ", \"cancelled\": " << m.cancelled
        << ", \"restarts\": " << m.restarts << ", \"max_held\": " << m.max_held
        << ", \"sent\": " << m.sent << ", \"p50_ns\": " << ns(m.p50)
        << ", \"p99_ns\": " << ns(m.p99) << "}";
    first = false;
  }
  out << "\n  ]\n}\n";
  return out.str();
}

} // namespace loopbridge::cli
