#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/log.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::cli {

/// The flags `run` and `demo` share. Unset ones leave the topology as written.
struct run_flags {
  std::optional<std::uint64_t> count;
  std::optional<std::uint32_t> concurrency;
  std::string json_path;
  std::optional<log_level> log;
  bool quiet = false;
  /// Without a terminal: a progress line this often.
  std::chrono::milliseconds progress_interval{2000};
};

/// Reads flags from `args`, accepting `--name VALUE` and `--name=VALUE`. Not thread-safe (a
/// command's own state); used only on the main thread.
class flag_reader {
public:
  explicit flag_reader(const std::vector<std::string>& args) : args_(args) {}

  /// Advances to the next argument; false at the end.
  bool next();
  /// The current argument (without `=VALUE`, if it had one).
  const std::string& arg() const { return name_; }
  bool is_flag() const { return name_.size() > 1 && name_[0] == '-'; }
  /// The current flag's value (the `=VALUE` part or the next argument); nullopt and an error
  /// when it has none.
  std::optional<std::string> value();
  /// The value as a whole number in [min, max].
  std::optional<std::uint64_t> number(std::uint64_t min, std::uint64_t max);

  /// The first problem met, e.g. "--count: expected a number from 1 to 100000000, got 'x'".
  const std::string& error() const { return error_; }
  void fail(std::string message) {
    if (error_.empty())
      error_ = std::move(message);
  }

private:
  const std::vector<std::string>& args_;
  std::size_t next_ = 0;
  std::string name_;
  std::optional<std::string> inline_value_;
  std::string error_;
};

/// If the current argument of `r` is one of the shared run flags, reads it into `flags` and
/// returns true (a bad value is recorded in `r.error()`).
bool read_run_flag(flag_reader& r, run_flags& flags);

/// The shared flags' help text, for a command's usage.
extern const char* run_flags_usage;

/// `topo` with `flags` applied: workload count and concurrency, log level.
topology apply_run_flags(const run_flags& flags, topology topo);

} // namespace loopbridge::cli
