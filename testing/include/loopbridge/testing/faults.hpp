#pragma once

// Fault injection for tests and scenarios: an instance that crashes, an actor that becomes slow.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "loopbridge/detail/fault_access.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/runtime.hpp"

namespace loopbridge::testing {

/// Kills instance `instance` of actor `name` as if it crashed: the request it runs fails with
/// `loop.worker_failed`, requests it took but had not started run elsewhere, and its restart
/// policy applies. `loop.not_found` if there is no such actor or instance. Any host thread;
/// returns at once (the kill happens on the event loop).
inline result<void> kill_instance(runtime& rt, std::string_view name, std::uint32_t instance) {
  return ::loopbridge::detail::fault_access::kill_instance(rt, name, instance);
}

/// Every request an instance of `name` starts from now on waits `delay` first — a dedicated
/// instance's thread sleeps, a scheduled one defers with a timer — as if the worker had become
/// slow. `0s` ends it. A request cancelled while it waits never runs. `loop.not_found` if there
/// is no such actor. Any host thread; returns at once.
inline result<void> slow_down(runtime& rt, std::string_view name, std::chrono::nanoseconds delay) {
  return ::loopbridge::detail::fault_access::slow_down(rt, name, delay);
}

} // namespace loopbridge::testing
