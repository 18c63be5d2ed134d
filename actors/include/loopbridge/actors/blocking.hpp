#pragma once

#include <cstdint>
#include <vector>

#include "loopbridge/kind.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

class blocking_worker;

/// The `blocking` kind: a blocking pool. Each instance owns a thread on which offloaded
/// functions run (`runtime::offload`, `runtime::pool(name).offload`), one at a time per
/// instance; `count` sizes the pool (default: the number of cores plus 4, at most 32 — the
/// size of Python's default executor). Functions may block, and may wait on other actors.
/// Declare pools in the topology to size them per purpose (`io`, `db`, ...); the default pool
/// (`runtime_options::offload_pool`) is spawned on first use if the topology does not.
struct blocking {
  static constexpr const char* name = "blocking";
  using requests = request_list<>;
  using worker = blocking_worker;
  static constexpr bool serves_offload = true;
  static loopbridge::execution execution(const loopbridge::params&) {
    return loopbridge::execution::dedicated_thread;
  }
  static std::uint32_t default_count();
};

class blocking_worker final : public loopbridge::worker {
public:
  explicit blocking_worker(worker_context&) {}
};

} // namespace loopbridge::actors
