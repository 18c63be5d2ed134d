#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loopbridge/config/loader.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/topology.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge::config {

/// One step of a scenario (docs/scenarios.md). Plain data: the runner in `loopbridge::testing`
/// gives it meaning. Which members matter depends on `type`.
struct scenario_step {
  enum class kind {
    call,           ///< send a request and wait for its outcome
    submit,         ///< send a request; `await` checks it later
    await,          ///< wait for a submitted request's outcome
    gather,         ///< several calls at once, as one group
    wait_event,     ///< wait for a lifecycle event
    fault,          ///< inject a fault
    spawn,          ///< start one more actor
    stop_actor,     ///< stop one actor, draining
    parallel,       ///< run the nested steps at once, each on its own thread
    repeat,         ///< run the nested steps `times` times, `concurrency` at once
    stream,         ///< a bounded stream: take some items, close it, check its producer
    offload,        ///< blocking functions on a pool
    expect_metrics, ///< an actor's counters
    stop,           ///< stop the runtime and check its report
  };
  kind type = kind::call;
  /// Where the step is: `file:line:column` and its key path, for reports.
  std::string where;
  std::string path;

  // call / submit / await / gather items
  std::string to;
  std::string request;
  value fields;
  value context;    ///< context fields the request carries
  std::string name; ///< submit: the name `await` uses; wait_event/metrics: the actor
  std::chrono::nanoseconds within{0}; ///< time bound (0: the step kind's default)
  value expect;               ///< expected fields (a subset of the reply, event or counters)
  std::string expect_error;   ///< expected error code `domain.code`; empty: success expected
  std::string expect_message; ///< a substring the error message must contain

  // wait_event
  std::string event; ///< ready, done, stopped, restarted, start_failed

  // fault: the whole map ({kill: ..}, {slow: ..}, {origin: .., faults: [..]})
  value fault;

  // spawn
  actor_spec spawn;

  // repeat / parallel / gather
  std::uint64_t times = 1;
  std::uint32_t concurrency = 1;
  std::vector<scenario_step> steps;
  /// gather: expect the group to fail at this item (index) with `expect_error`; -1: succeed.
  std::int64_t fail_index = -1;

  // stream / offload: their own parameters, as written
  value args;
};

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
