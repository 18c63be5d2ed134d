#pragma once

// Helpers shared by loopbridge's tests: a runtime with the built-in kinds, and waiting on a
// condition with a deadline (tests never sleep to wait for concurrency).

#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

namespace lbtest {

using namespace std::chrono_literals;

/// A new empty directory under /tmp (left for inspection after a failure).
inline std::string temp_dir(const std::string& prefix = "loopbridge-test") {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  return ::mkdtemp(tmpl.data());
}

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

} // namespace lbtest
