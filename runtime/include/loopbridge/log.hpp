#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace loopbridge {

/// Log levels, from most to least verbose. The runtime is quiet by default (`warning`).
enum class log_level { trace, debug, info, warning, error, off };

/// Parses `trace`, `debug`, `info`, `warning`, `error`, `off`; false if unknown.
bool parse_log_level(std::string_view text, log_level& out);
const char* to_string(log_level level);

namespace log {

/// The process-wide threshold; messages below it are dropped without formatting. Initialised
/// from the LOOPBRIDGE_LOG environment variable when set, else `warning`. Thread-safe.
void set_level(log_level level) noexcept;
/// Sets the threshold unless LOOPBRIDGE_LOG chose one (the environment wins over code).
void set_level_default(log_level level) noexcept;
log_level level() noexcept;
inline bool enabled(log_level l) noexcept {
  return l >= level();
}

/// Writes one line to stderr: time, level, thread name, component, message. Thread-safe; lines
/// from different threads never interleave.
void write(log_level l, std::string_view component, std::string_view message);

/// Names the calling thread (shown in logs and by the OS, truncated to 15 characters).
void name_thread(std::string_view name);
/// The calling thread's name as set by `name_thread` or the OS.
std::string thread_name();

} // namespace log
} // namespace loopbridge

/// Logs `expr` (anything streamable, joined with <<) at `lvl` for `component`, formatting only
/// when the level is enabled.
#define LB_LOG(lvl, component, expr)                                                               \
  do {                                                                                             \
    if (::loopbridge::log::enabled(::loopbridge::log_level::lvl)) {                                \
      std::ostringstream lb_log_stream_;                                                           \
      lb_log_stream_ << expr;                                                                      \
      ::loopbridge::log::write(::loopbridge::log_level::lvl, component, lb_log_stream_.str());     \
    }                                                                                              \
  } while (false)
