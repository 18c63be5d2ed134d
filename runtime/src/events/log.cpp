// The runtime's log: levels and their settings, writing lines, naming threads.
#include "loopbridge/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <pthread.h>

namespace loopbridge {

bool parse_log_level(std::string_view text, log_level& out) {
  static constexpr std::pair<std::string_view, log_level> names[] = {
      {"trace", log_level::trace},     {"debug", log_level::debug},  {"info", log_level::info},
      {"warning", log_level::warning}, {"warn", log_level::warning}, {"error", log_level::error},
      {"off", log_level::off},         {"quiet", log_level::off},
  };
  for (auto& [name, level] : names)
    if (text == name) {
      out = level;
      return true;
    }
  return false;
}

const char* to_string(log_level level) {
  switch (level) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
    case log_level::off:
      return "off";
  }
  return "?";
}

namespace log {

namespace {

struct settings {
  std::atomic<log_level> level{log_level::warning};
  bool from_environment = false;
  std::mutex write_mutex;
  settings() {
    if (const char* env = std::getenv("LOOPBRIDGE_LOG")) {
      log_level l;
      if (parse_log_level(env, l)) {
        level = l;
        from_environment = true;
      }
    }
  }
};

settings& global() {
  static settings s;
  return s;
}

} // namespace

void set_level(log_level level) noexcept {
  global().level.store(level, std::memory_order_relaxed);
}

void set_level_default(log_level level) noexcept {
  if (!global().from_environment)
    set_level(level);
}

log_level level() noexcept {
  return global().level.load(std::memory_order_relaxed);
}

void write(log_level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  auto thread = thread_name();
  std::lock_guard<std::mutex> guard{global().write_mutex};
  std::fprintf(stderr, "%s.%03d %-7s [%s] %.*s: %.*s\n", stamp, static_cast<int>(ms), to_string(l),
               thread.c_str(), static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

void name_thread(std::string_view name) {
  char buf[16];
  auto n = std::min<std::size_t>(name.size(), 15);
  name.copy(buf, n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

std::string thread_name() {
  char buf[16] = {};
  pthread_getname_np(pthread_self(), buf, sizeof(buf));
  return buf;
}

} // namespace log
} // namespace loopbridge
