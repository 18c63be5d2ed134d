#pragma once

// The node processes a scenario's topology places actors on: started before its runtime,
// stopped after it.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "loopbridge/result.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge::testing::detail {

/// Runs, for each node of a scenario's topology on this machine (a loopback address), a node
/// process — `program node --node NAME --port PORT FILE`, the scenario file itself — on a free
/// port, and points the topology's node at that port. Nodes on other machines are left to run
/// on their own. Every process shares this one's environment (the nodes' secret variables).
///
/// Threads: one thread at a time. Destroying it stops what still runs (see `stop`).
class scenario_nodes {
public:
  scenario_nodes();
  ~scenario_nodes();
  scenario_nodes(const scenario_nodes&) = delete;
  scenario_nodes& operator=(const scenario_nodes&) = delete;

  /// Starts the loopback nodes of `topo` and waits until each serves, at most `timeout` in
  /// all; rewrites their ports in `topo`. `loop.start_failed` naming the node (and what it
  /// printed) when one cannot start; `loop.bad_request` when `program` is empty.
  result<void> start(topology& topo, const std::string& file, const std::string& program,
                     std::chrono::milliseconds timeout);
  /// Asks each node to stop (SIGTERM), waits for it within `grace`, then kills what is left.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

private:
  class process;
  std::vector<std::unique_ptr<process>> running_;
};

} // namespace loopbridge::testing::detail
