#pragma once

// Shared helpers of loopbridge's benchmarks: statistics, the machine-readable `figure` and
// `ratio` lines every benchmark ends with, and running Python baselines with Debian's
// interpreter.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace loopbridge::bench {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

/// The q-quantile (0..1) of `xs` (copied and sorted); 0 for an empty sample.
inline double quantile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<std::size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}
inline double median(std::vector<double> xs) {
  return quantile(std::move(xs), 0.5);
}
/// The median of one member over a sample of records: `median_of(runs, &run::rate)`.
template <class T>
double median_of(const std::vector<T>& xs, double T::*member) {
  std::vector<double> v;
  v.reserve(xs.size());
  for (auto& x : xs)
    v.push_back(x.*member);
  return median(std::move(v));
}

/// CPU seconds (user + system) from getrusage: RUSAGE_SELF (the process), RUSAGE_THREAD (the
/// calling thread) or RUSAGE_CHILDREN (waited-for children).
inline double cpu_seconds(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

/// CPU of the process and of the calling thread over a stretch of work.
struct cpu_meter {
  double process0 = cpu_seconds(RUSAGE_SELF);
  double thread0 = cpu_seconds(RUSAGE_THREAD);
  double process_s() const { return cpu_seconds(RUSAGE_SELF) - process0; }
  double thread_s() const { return cpu_seconds(RUSAGE_THREAD) - thread0; }
};

/// Runs two contenders one after the other, taking turns to go first: `first` then `second` on
/// even turns, the other way round on odd ones. On a shared machine whose speed drifts, the
/// contender that always went first would carry that drift alone.
template <class First, class Second>
void in_turns(std::size_t turn, First&& first, Second&& second) {
  if (turn % 2 == 0) {
    first();
    second();
  } else {
    second();
    first();
  }
}

/// Collects figures and ratios and prints them at the end in the format scripts read:
/// `figure <name> <value> <unit>` and `ratio <name> <value>`.
class report {
public:
  void figure(const std::string& name, double value, const std::string& unit) {
    figures_.push_back({name, value, unit});
  }
  void ratio(const std::string& name, double value) { ratios_.push_back({name, value, ""}); }
  /// A requirement checked in the same run; printed as PASS/FAIL, never fails the process.
  void require(const std::string& what, bool ok) { checks_.push_back({what, ok}); }

  void print() const {
    if (!checks_.empty()) {
      std::printf("\nrequirements (same run):\n");
      for (auto& [what, ok] : checks_)
        std::printf("  %-4s %s\n", ok ? "PASS" : "FAIL", what.c_str());
    }
    std::printf("\n");
    for (auto& f : figures_)
      std::printf("figure %s %.6g %s\n", f.name.c_str(), f.value, f.unit.c_str());
    for (auto& r : ratios_)
      std::printf("ratio %s %.4g\n", r.name.c_str(), r.value);
    std::fflush(stdout);
  }

private:
  struct entry {
    std::string name;
    double value;
    std::string unit;
  };
  std::vector<entry> figures_;
  std::vector<entry> ratios_;
  std::vector<std::pair<std::string, bool>> checks_;
};

/// Runs `/usr/bin/python3 script args` (Debian's interpreter, which owns python3-aiohttp and
/// python3-pil) and returns the `key value` pairs it prints on lines starting with `result `.
/// Empty when Python or the script is unavailable.
inline std::map<std::string, double> run_python(const std::string& script,
                                                const std::string& args) {
  std::map<std::string, double> out;
  std::string cmd = "/usr/bin/python3 " + script + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe)
    return out;
  std::array<char, 512> line{};
  while (std::fgets(line.data(), static_cast<int>(line.size()), pipe.get())) {
    char key[128];
    double value;
    if (std::sscanf(line.data(), "result %127s %lf", key, &value) == 2)
      out[key] = value;
    else
      std::fprintf(stderr, "  python: %s", line.data());
  }
  return out;
}

/// True if `--quick` is among the arguments.
inline bool quick_mode(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0)
      return true;
  return false;
}

/// The sections `--part N` (repeatable) selects; all of them when none is given. For profiling
/// one section alone; its requirements are the only ones checked then. A `--part` without a
/// number from 1 to `sections` ends the program with a message (exit status 2).
inline std::vector<int> selected_parts(int argc, char** argv, int sections) {
  std::vector<int> parts;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--part") != 0)
      continue;
    int n = i + 1 < argc ? std::atoi(argv[++i]) : 0;
    if (n < 1 || n > sections) {
      std::fprintf(stderr, "%s: --part takes a section number from 1 to %d\n", argv[0], sections);
      std::exit(2);
    }
    parts.push_back(n);
  }
  return parts;
}

} // namespace loopbridge::bench
