// The scenario runner's shape: a verdict per step, and the runner that performs each step
// type against one runtime (one file per group of step types).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "loopbridge/config/scenario.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/testing/scenario_runner.hpp"
#include "loopbridge/value_future.hpp"

namespace loopbridge::testing::detail {

using clock = std::chrono::steady_clock;

/// What went wrong in a step (empty `expected` and `actual`: it passed).
struct verdict {
  bool ok = true;
  std::string expected;
  std::string actual;

  static verdict pass() { return {}; }
  static verdict fail(std::string expected, std::string actual) {
    return {false, std::move(expected), std::move(actual)};
  }
};

/// `1.2 ms`
std::string ms_text(std::chrono::nanoseconds d);

/// The directory of the scenario's file (`${scenario.dir}`).
std::string scenario_dir(const config::scenario& s);

template <class Step, class = void>
struct has_within : std::false_type {};
template <class Step>
struct has_within<Step, std::void_t<decltype(std::declval<const Step&>().within)>>
    : std::true_type {};

template <class Step, class = void>
struct has_expect : std::false_type {};
template <class Step>
struct has_expect<Step, std::void_t<decltype(std::declval<const Step&>().expect)>>
    : std::true_type {};

/// The bound a step declares (`within`); 0 when it declares none or its type takes none.
template <class Step>
std::chrono::nanoseconds declared_within(const Step& s) {
  if constexpr (has_within<Step>::value)
    return s.within;
  else
    return std::chrono::nanoseconds{0};
}

/// The bound `step` declares, whatever its type.
inline std::chrono::nanoseconds declared_within(const config::scenario_step& step) {
  return std::visit([](const auto& s) { return declared_within(s); }, step.action);
}

/// Runs one scenario's steps against its runtime. `run` may be called from several threads at
/// once (the steps of `parallel` and `repeat` blocks).
class runner {
public:
  runner(const config::scenario& s, runtime& rt, const run_options& options);

  /// Runs `step` in iteration `i` (of a `repeat`; 0 outside one).
  verdict run(const config::scenario_step& step, std::uint64_t i);

private:
  // runner.cpp: placeholders, sending, outcomes.
  template <class Step>
  verdict run_resolved(const Step& s, std::uint64_t i);
  template <class Step>
  std::chrono::nanoseconds within(const Step& s) const {
    auto declared = declared_within(s);
    return declared.count() > 0 ? declared : options_.default_within;
  }
  /// `fields` with `${actor.key}` and `{i}` resolved.
  result<value> resolve(const value& fields, std::uint64_t i);
  /// Sends `r` (as a pipeline when its actor has a route) with `fields` (already resolved) and
  /// its context.
  value_future send(const config::step_request& r, const value& fields, std::uint64_t i,
                    std::chrono::nanoseconds timeout);
  /// Resolves `r`'s fields and sends it; tracked for `stop`'s count of lost requests.
  result<value_future> send_tracked(const config::step_request& r, std::uint64_t i,
                                    std::chrono::nanoseconds timeout);
  void track(const value_future& f);

  // request_steps.cpp
  verdict perform(const config::call_step& s, std::uint64_t i);
  verdict perform(const config::submit_step& s, std::uint64_t i);
  verdict perform(const config::await_step& s, std::uint64_t i);
  verdict perform(const config::gather_step& s, std::uint64_t i);

  // lifecycle_steps.cpp
  verdict perform(const config::wait_event_step& s, std::uint64_t i);
  verdict perform(const config::fault_step& s, std::uint64_t i);
  verdict perform(const config::spawn_step& s, std::uint64_t i);
  verdict perform(const config::stop_actor_step& s, std::uint64_t i);
  verdict perform(const config::expect_metrics_step& s, std::uint64_t i);
  verdict perform(const config::stop_step& s, std::uint64_t i);

  // block_steps.cpp
  verdict perform(const config::parallel_step& s, std::uint64_t i);
  verdict perform(const config::repeat_step& s, std::uint64_t i);

  // host_api_steps.cpp
  verdict perform(const config::stream_step& s, std::uint64_t i);
  verdict perform(const config::offload_step& s, std::uint64_t i);

  const config::scenario& scenario_;
  runtime& rt_;
  const run_options& options_;
  event_inbox inbox_;
  std::mutex events_mutex_;
  std::vector<event> backlog_;
  std::mutex mutex_;
  std::map<std::string, value_future> submitted_;
  std::vector<value_future> all_;
};

/// Checks an outcome against a step's expectations: the error `expect_error` (with
/// `expect_message` in its message), or, when `expect_error` is empty, success with `expect` a
/// subset of the reply.
verdict check_outcome(const value& expect, const std::string& expect_error,
                      const std::string& expect_message, const result<value>& got);

/// The outcome of `f`, waited for up to `bound` (then `loop.timeout` from the runner).
result<value> outcome(value_future& f, std::chrono::nanoseconds bound);

/// `expect` checked against `got`: passes when `expect` is null or a subset of `got`.
verdict check_value(const value& expect, const value& got);

} // namespace loopbridge::testing::detail
