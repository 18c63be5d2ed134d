#include "run_flags.hpp"

#include "loopbridge/text.hpp"
#include <cerrno>
#include <cstdlib>

namespace loopbridge::cli {

const char* run_flags_usage =
    R"(  --count N            requests to send (default: the workload's)
  --concurrency N      requests in flight at once (default: the workload's)
  --json FILE          also write the summary as JSON to FILE
  --log-level LEVEL    trace, debug, info, warning, error or off (default: the topology's)
  --quiet              no progress lines, only the summary
  --progress-interval MS
                       without a terminal, print a progress line every MS ms (default 2000)
  -h, --help           this help
)";

bool flag_reader::next() {
  if (next_ >= args_.size())
    return false;
  const auto& a = args_[next_++];
  inline_value_.reset();
  auto eq = a.find('=');
  if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
    name_ = a.substr(0, eq);
    inline_value_ = a.substr(eq + 1);
  } else {
    name_ = a;
  }
  return true;
}

std::optional<std::string> flag_reader::value() {
  if (inline_value_)
    return std::exchange(inline_value_, std::nullopt);
  if (next_ >= args_.size()) {
    fail(name_ + ": expected a value");
    return std::nullopt;
  }
  return args_[next_++];
}

std::optional<std::uint64_t> flag_reader::number(std::uint64_t min, std::uint64_t max) {
  auto text = value();
  if (!text)
    return std::nullopt;
  char* end = nullptr;
  errno = 0;
  auto n = std::strtoull(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno != 0 || (*text)[0] == '-' || n < min || n > max) {
    fail(name_ + ": expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
         ", got " + quote(*text));
    return std::nullopt;
  }
  return n;
}

bool read_run_flag(flag_reader& r, run_flags& flags) {
  const auto& a = r.arg();
  if (a == "--count") {
    if (auto n = r.number(1, 100'000'000))
      flags.count = *n;
  } else if (a == "--concurrency") {
    if (auto n = r.number(1, 100'000))
      flags.concurrency = static_cast<std::uint32_t>(*n);
  } else if (a == "--json") {
    if (auto v = r.value())
      flags.json_path = *v;
  } else if (a == "--log-level") {
    if (auto v = r.value()) {
      log_level level;
      if (parse_log_level(*v, level))
        flags.log = level;
      else
        r.fail("--log-level: expected trace, debug, info, warning, error or off, got " + quote(*v));
    }
  } else if (a == "--progress-interval") {
    if (auto n = r.number(10, 3'600'000))
      flags.progress_interval = std::chrono::milliseconds(*n);
  } else if (a == "--quiet" || a == "-q") {
    flags.quiet = true;
  } else {
    return false;
  }
  return true;
}

topology apply_run_flags(const run_flags& flags, topology topo) {
  if (flags.log)
    topo.runtime.log = *flags.log;
  if (!topo.workload)
    return topo;
  if (flags.count)
    topo.workload->total = *flags.count;
  if (flags.concurrency)
    topo.workload->concurrency = *flags.concurrency;
  return topo;
}

} // namespace loopbridge::cli
