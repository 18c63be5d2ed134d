// The scenario loader's shape: what it reads, and in which file each part lives.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "yaml_reader.hpp"

#include "loopbridge/config/scenario.hpp"
#include "loopbridge/kind_registry.hpp"

namespace loopbridge::config::detail {

/// The keys a step may have besides its keyword, as read; which of them a step takes depends
/// on its type.
struct step_modifiers {
  value expect;
  std::string expect_error;
  std::string expect_message;
  std::chrono::nanoseconds within{0};
  std::string as;
  std::optional<std::size_t> at;
};

/// Reads one scenario document into a `scenario`, reporting every problem through `yaml`.
/// Not thread-safe (one per load).
class scenario_loader {
public:
  scenario_loader(const kind_registry& kinds, yaml_reader& yaml, std::vector<problem>& problems)
      : kinds_(kinds),
        yaml_(yaml),
        problems_(problems) {}

  /// The scenario, or nothing when there were problems.
  std::optional<scenario> load(const YAML::Node& root);

private:
  // scenario_loader.cpp: the file, its topology and its list of steps.
  std::optional<topology> load_topology(const YAML::Node& n);
  std::vector<scenario_step> load_steps(const YAML::Node& list, const std::string& path);
  std::optional<scenario_step> load_step(const YAML::Node& n, const std::string& path);
  /// The step's keyword and its value; nothing (reported) when it has none or several.
  std::optional<std::pair<std::string, YAML::Node>> find_keyword(const YAML::Node& n,
                                                                 const std::string& path);
  step_modifiers load_modifiers(const std::vector<std::pair<std::string, YAML::Node>>& entries,
                                const std::string& keyword, const std::string& path);
  void check_modifiers(const YAML::Node& n, const std::string& path, const std::string& keyword,
                       const step_modifiers& m);

  // scenario_steps.cpp: one loader per step type.
  step_action load_action(const std::string& keyword, const YAML::Node& v, const std::string& p,
                          const step_modifiers& m);
  call_step load_call(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  submit_step load_submit(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  await_step load_await(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  gather_step load_gather(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  wait_event_step load_wait_event(const YAML::Node& v, const std::string& p,
                                  const step_modifiers& m);
  fault_step load_fault(const YAML::Node& v, const std::string& p);
  spawn_step load_spawn(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  stop_actor_step load_stop_actor(const YAML::Node& v, const std::string& p,
                                  const step_modifiers& m);
  parallel_step load_parallel(const YAML::Node& v, const std::string& p);
  repeat_step load_repeat(const YAML::Node& v, const std::string& p);
  stream_step load_stream(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  offload_step load_offload(const YAML::Node& v, const std::string& p, const step_modifiers& m);
  expect_metrics_step load_expect_metrics(const YAML::Node& v, const std::string& p,
                                          const step_modifiers& m);
  stop_step load_stop(const YAML::Node& v, const std::string& p, const step_modifiers& m);

  // scenario_requests.cpp: requests, and the names steps refer to.
  step_request load_request(const YAML::Node& v, const std::string& p);
  /// Reports each problem the converter of `req` finds in `fields`, located under `path`.
  void check_fields(const request_entry& req, const value& fields, const std::string& path);
  /// The actor named by scalar `n`, reported (with a did-you-mean) if the topology and the
  /// spawn steps so far have none; empty then.
  std::string known_actor(const YAML::Node& n, const std::string& path);
  /// True if an earlier submit has the name `name`, or a pattern (`r{i}`, `job-{i%4}`) that
  /// produces it.
  bool submitted(const std::string& name) const;

  const kind_registry& kinds_;
  yaml_reader& yaml_;
  std::vector<problem>& problems_;
  std::map<std::string, std::string> actors_; ///< name -> kind, topology and spawn steps
  std::set<std::string> submitted_;
};

} // namespace loopbridge::config::detail
