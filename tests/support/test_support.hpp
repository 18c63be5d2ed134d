#pragma once

// Helpers shared by loopbridge's tests: a runtime with the built-in kinds, and waiting on a
// condition with a deadline (tests never sleep to wait for concurrency).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

namespace lbtest {

using namespace std::chrono_literals;

/// True in a ThreadSanitizer build, whose runtime adds memory mappings of its own per thread
/// (tests that count the process's mappings cannot tell those from a leak).
#if defined(__SANITIZE_THREAD__)
inline constexpr bool thread_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool thread_sanitizer = true;
#else
inline constexpr bool thread_sanitizer = false;
#endif
#else
inline constexpr bool thread_sanitizer = false;
#endif

/// True in an AddressSanitizer build (much slower and larger per actor: tests scale down).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool address_sanitizer = true;
#else
inline constexpr bool address_sanitizer = false;
#endif
#else
inline constexpr bool address_sanitizer = false;
#endif

/// A new empty directory under /tmp, removed with everything in it when this object is
/// destroyed: declare it before the runtime whose actors use it, so they stop first. Set
/// LOOPBRIDGE_KEEP_TEMP=1 to keep every test's directories for inspection.
class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "loopbridge-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
  }
  ~temp_dir() {
    if (const char* keep = std::getenv("LOOPBRIDGE_KEEP_TEMP"); keep && *keep && *keep != '0')
      return;
    std::error_code ignored; // best effort: a test's leftovers must not fail it
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// The whole content of the file at `path` (empty when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline loopbridge::runtime_options quick_options() {
  loopbridge::runtime_options o;
  o.shutdown_budget = std::chrono::seconds(5);
  return o;
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held. For conditions
/// that have no event to wait on (thread lists, counters another thread updates).
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Spawns an echo actor and returns its handle (the test fails if either step fails).
inline loopbridge::actor_handle<loopbridge::actors::echo> spawn_echo(loopbridge::runtime& rt,
                                                                     const std::string& name,
                                                                     loopbridge::value params = {},
                                                                     std::uint32_t count = 1) {
  loopbridge::actor_spec spec;
  spec.name = name;
  spec.kind = "echo";
  spec.params = std::move(params);
  spec.count = count;
  rt.spawn(spec).value();
  return rt.actor<loopbridge::actors::echo>(name).value();
}

/// Spawns a blocking pool `name` of `count` threads and returns it.
inline loopbridge::blocking_pool spawn_blocking_pool(loopbridge::runtime& rt,
                                                     const std::string& name, std::uint32_t count) {
  loopbridge::actor_spec spec;
  spec.name = name;
  spec.kind = "blocking";
  spec.count = count;
  rt.spawn(spec).value();
  return rt.pool(name).value();
}

/// A loopback port nothing listens on now (bound, then closed): for a peer that refuses
/// connections, or a node to start on.
inline std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error(std::string{"bind: "} + std::strerror(errno));
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

} // namespace lbtest
