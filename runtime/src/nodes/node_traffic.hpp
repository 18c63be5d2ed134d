#pragma once

// The traffic to one node, counted by the instances that stand in for its actors.

#include <atomic>
#include <cstdint>

namespace loopbridge::detail {

/// Requests and bytes that went to one node and came back, summed over every instance of its
/// actors in this process (`node_host`), read by `runtime::nodes`. Counters are relaxed
/// atomics: each is exact, a snapshot of several is not taken at one instant.
struct node_traffic {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::uint64_t> resent{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> bytes_received{0};

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  static void take(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.fetch_sub(n, std::memory_order_relaxed);
  }
};

} // namespace loopbridge::detail
