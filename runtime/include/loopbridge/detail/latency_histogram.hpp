#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace loopbridge::detail {

/// A log-linear histogram of latencies: 8 buckets per power of two from 1 µs to ~2 min (so any
/// reported quantile is within 12.5 % of the true value), plus an underflow and an overflow
/// bucket. `record` is lock-free (relaxed atomics: one writer, the event loop); `quantile` may
/// run concurrently on any thread and sees a slightly stale but consistent-enough view. The
/// buckets (1.7 KB) are allocated by the first `record`: an actor that never completed a
/// request (a million idle ones) holds one pointer.
class latency_histogram {
public:
  latency_histogram() = default;
  latency_histogram(const latency_histogram&) = delete;
  latency_histogram& operator=(const latency_histogram&) = delete;
  ~latency_histogram() { delete counts_.load(std::memory_order_relaxed); }

  static constexpr int sub_buckets = 8;
  static constexpr int first_power = 10; // 2^10 ns ~ 1 µs
  static constexpr int powers = 27;      // up to 2^37 ns ~ 137 s
  static constexpr int size = powers * sub_buckets + 2;

  /// Counts one latency. The event loop's thread only (the one writer).
  void record(std::chrono::nanoseconds d) {
    auto* counts = counts_.load(std::memory_order_acquire);
    if (!counts) {
      counts = new buckets{};
      counts_.store(counts, std::memory_order_release);
    }
    (*counts)[index_of(d.count())].fetch_add(1, std::memory_order_relaxed);
  }

  /// The q-quantile (0..1) of what was recorded: the upper edge of the bucket it falls in, or 0
  /// when nothing was recorded.
  std::chrono::nanoseconds quantile(double q) const noexcept {
    auto* counts = counts_.load(std::memory_order_acquire);
    if (!counts)
      return std::chrono::nanoseconds{0};
    std::array<std::uint64_t, size> snapshot;
    std::uint64_t total = 0;
    for (int i = 0; i < size; ++i) {
      snapshot[i] = (*counts)[i].load(std::memory_order_relaxed);
      total += snapshot[i];
    }
    if (total == 0)
      return std::chrono::nanoseconds{0};
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < size; ++i) {
      seen += snapshot[i];
      if (seen >= rank)
        return std::chrono::nanoseconds{upper_edge(i)};
    }
    return std::chrono::nanoseconds{upper_edge(size - 1)};
  }

  std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    if (auto* counts = counts_.load(std::memory_order_acquire))
      for (auto& c : *counts)
        total += c.load(std::memory_order_relaxed);
    return total;
  }

private:
  static int index_of(std::int64_t ns) noexcept {
    if (ns < (std::int64_t{1} << first_power))
      return 0;
    int power = 63 - __builtin_clzll(static_cast<unsigned long long>(ns));
    if (power >= first_power + powers)
      return size - 1;
    int sub = static_cast<int>((ns >> (power - 3)) & (sub_buckets - 1));
    return 1 + (power - first_power) * sub_buckets + sub;
  }
  static std::int64_t upper_edge(int index) noexcept {
    if (index == 0)
      return std::int64_t{1} << first_power;
    if (index == size - 1)
      return std::int64_t{1} << (first_power + powers);
    int power = first_power + (index - 1) / sub_buckets;
    int sub = (index - 1) % sub_buckets;
    return (std::int64_t{1} << power) + (std::int64_t{sub + 1} << (power - 3));
  }

  using buckets = std::array<std::atomic<std::uint64_t>, size>;
  std::atomic<buckets*> counts_{nullptr};
};

} // namespace loopbridge::detail
