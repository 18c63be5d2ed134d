#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge::config {

// The steps of a scenario (docs/scenarios.md), one type per step keyword, each with only the
// keys that step takes. Plain data: the runner in `loopbridge::testing` gives them meaning.
// In every step, `within` 0 means the runner's default bound (`run_options::default_within`),
// and a null `expect` checks no fields.

/// A request a step sends: `{to, request, fields, context}`.
struct step_request {
  std::string to;      ///< the actor; a pipeline when it has a route
  std::string request; ///< the request's name; the loader fills in a kind's only request
  value fields;        ///< null: no fields
  value context;       ///< context fields the request carries (a map), or null
};

/// `call`: send a request and wait for its outcome: the error `expect_error` (`domain.code`)
/// with `expect_message` in its message, or, when `expect_error` is empty, a reply of which
/// `expect` is a subset.
struct call_step {
  static constexpr std::string_view keyword = "call";
  step_request request;
  value expect;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
};

/// `submit`: send a request without waiting; a later `await` checks it by `name`, which may
/// use `{i}` inside a `repeat`.
struct submit_step {
  static constexpr std::string_view keyword = "submit";
  step_request request;
  std::string name;
};

/// `await`: wait for the outcome of the submitted request `name`; checks as `call_step` does.
struct await_step {
  static constexpr std::string_view keyword = "await";
  std::string name;
  value expect;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
};

/// `gather`: send every request at once and wait for all: each succeeds, except the one at
/// index `at`, which fails with `expect_error` (and `expect_message`).
struct gather_step {
  static constexpr std::string_view keyword = "gather";
  std::vector<step_request> requests;
  std::optional<std::size_t> at;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
};

/// `wait_event`: wait for a lifecycle event (`ready`, `done`, `stopped`, `restarted`,
/// `start_failed`) of `actor` (empty: any actor) whose fields `expect` is a subset of.
struct wait_event_step {
  static constexpr std::string_view keyword = "wait_event";
  std::string event;
  std::string actor;
  value expect;
  std::chrono::nanoseconds within{0};
};

/// `fault`: inject a fault, as written: `{kill: {actor, instance}}`, `{slow: {actor, delay}}`
/// or `{origin: name, faults: [...]}`.
struct fault_step {
  static constexpr std::string_view keyword = "fault";
  value spec;
};

/// `spawn`: start one more actor; its start goes on in the background. Fails with
/// `expect_error` (and `expect_message`) when given, else succeeds.
struct spawn_step {
  static constexpr std::string_view keyword = "spawn";
  actor_spec actor;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
};

/// `stop_actor`: stop one actor, draining within `within`; `expect` checks its stopped event.
struct stop_actor_step {
  static constexpr std::string_view keyword = "stop_actor";
  std::string actor;
  value expect;
  std::chrono::nanoseconds within{0};
};

struct scenario_step;

/// `parallel`: run the nested steps at once, each on its own thread.
struct parallel_step {
  static constexpr std::string_view keyword = "parallel";
  std::vector<scenario_step> steps;
};

/// `repeat`: run the nested steps `times` times, `concurrency` threads at once.
struct repeat_step {
  static constexpr std::string_view keyword = "repeat";
  std::uint64_t times = 1;
  std::uint32_t concurrency = 1;
  std::vector<scenario_step> steps;
};

/// `stream`: a counting generator of `items` behind a bounded stream of `max_buffer`; takes
/// `take` items (all when not given), then closes it if `close`. `expect` checks `taken`,
/// `produced`, `max_lead`, `in_order`, `ended`, `producer_stopped`, `produced_within_bound`.
struct stream_step {
  static constexpr std::string_view keyword = "stream";
  std::int64_t items = 100;
  std::size_t max_buffer = 8;
  std::optional<std::int64_t> take;
  bool close = true;
  value expect;
  std::chrono::nanoseconds within{0};
};

/// `offload`: run `work` `times` times on the blocking pool `pool` (empty: the runtime's
/// default pool), or on threads of their own if `separate`; each result checks as
/// `call_step` does.
struct offload_step {
  static constexpr std::string_view keyword = "offload";
  enum class work_type {
    sleep, ///< sleep for `duration`, or until cancelled
    fail,  ///< throw
    call,  ///< send `call` from the pool thread and wait for its reply
  };
  work_type work = work_type::sleep;
  std::int64_t times = 1;
  std::string pool;
  std::chrono::nanoseconds duration{0};
  /// Sent as written: the loader checks it but fills in no request name.
  step_request call;
  bool separate = false;
  value expect;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
};

/// `expect_metrics`: poll `actor`'s counters until `expect` is a subset of them or `within`
/// passes.
struct expect_metrics_step {
  static constexpr std::string_view keyword = "expect_metrics";
  std::string actor;
  value expect;
  std::chrono::nanoseconds within{0};
};

/// `stop`: stop the runtime, within `within` when given; `expect` checks `lost`, `cancelled`,
/// `clean`, `stuck` and `order`.
struct stop_step {
  static constexpr std::string_view keyword = "stop";
  value expect;
  std::chrono::nanoseconds within{0};
};

/// What a step does: one of the step types.
using step_action =
    std::variant<call_step, submit_step, await_step, gather_step, wait_event_step, fault_step,
                 spawn_step, stop_actor_step, parallel_step, repeat_step, stream_step, offload_step,
                 expect_metrics_step, stop_step>;

/// One step of a scenario: what it does, and where it is for reports.
struct scenario_step {
  step_action action;
  /// Its key path (`steps[3]`, `steps[2].repeat.steps[0]`).
  std::string path;
  /// `file:line:column`; empty for a step built in code.
  std::string where;
};

/// The keyword of the step's type in a scenario file (`call`, `repeat`, ...).
inline std::string_view keyword_of(const step_action& action) {
  return std::visit([](const auto& s) { return std::decay_t<decltype(s)>::keyword; }, action);
}

/// A scenario: what it covers, the topology it runs (from a file or inline), and its steps.
struct scenario {
  std::string source; ///< the scenario file
  std::string title;
  /// The row of DESIGN.md's seed table it covers (free text, checked by the suite).
  std::string covers;
  topology topo;
  std::vector<scenario_step> steps;
};

struct scenario_load_result {
  std::optional<config::scenario> scenario;
  std::vector<problem> problems;

  bool ok() const noexcept { return problems.empty() && scenario.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  std::string report() const;
};

/// Reads and validates a scenario file: the same quality of errors as a topology file (every
/// problem with file:line:column, key path, expectation and did-you-mean). Actor names,
/// request names and request fields are checked against the topology and `kinds`. A
/// `topology: FILE` reference is resolved relative to the scenario's directory. Never throws.
scenario_load_result load_scenario(const std::string& path, const kind_registry& kinds,
                                   load_limits limits = {});

/// Like `load_scenario`, from text; `file` names it in messages and anchors relative paths.
scenario_load_result parse_scenario(std::string_view text, const kind_registry& kinds,
                                    std::string file = "<input>", load_limits limits = {});

} // namespace loopbridge::config
