#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace loopbridge::detail {

/// A log-linear histogram of latencies: 8 buckets per power of two from 1 µs to ~2 min (so any
/// reported quantile is within 12.5 % of the true value), plus an underflow and an overflow
/// bucket. `record` is lock-free (relaxed atomics: one writer, the event loop); `quantile` may
/// run concurrently on any thread and sees a slightly stale but consistent-enough view.
/// Memory follows use: an actor that never completed a request (a million idle ones) holds one
/// pointer; the first `record` allocates a directory (232 bytes) and each power of two that
/// sees a latency its 8 buckets (64 bytes), so an actor that served one request holds about
/// 300 bytes, not the 1.7 KB of every bucket.
class latency_histogram {
public:
  latency_histogram() = default;
  latency_histogram(const latency_histogram&) = delete;
  latency_histogram& operator=(const latency_histogram&) = delete;
  ~latency_histogram() {
    if (auto* dir = dir_.load(std::memory_order_relaxed)) {
      for (auto& g : dir->groups)
        delete g.load(std::memory_order_relaxed);
      delete dir;
    }
  }

  static constexpr int sub_buckets = 8;
  static constexpr int first_power = 10; // 2^10 ns ~ 1 µs
  static constexpr int powers = 27;      // up to 2^37 ns ~ 137 s
  static constexpr int size = powers * sub_buckets + 2;

  /// Counts one latency. The event loop's thread only (the one writer).
  void record(std::chrono::nanoseconds d) {
    auto* dir = dir_.load(std::memory_order_acquire);
    if (!dir) {
      dir = new directory{};
      dir_.store(dir, std::memory_order_release);
    }
    bump(counter(*dir, index_of(d.count())));
  }

  /// The q-quantile (0..1) of what was recorded: the upper edge of the bucket it falls in, or 0
  /// when nothing was recorded.
  std::chrono::nanoseconds quantile(double q) const noexcept {
    std::array<std::uint64_t, size> snapshot{};
    auto total = take_snapshot(snapshot);
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
    std::array<std::uint64_t, size> snapshot{};
    return take_snapshot(snapshot);
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

  /// The 8 buckets of one power of two.
  struct group {
    std::atomic<std::uint64_t> counts[sub_buckets] = {};
  };
  struct directory {
    std::atomic<std::uint64_t> underflow{0};
    std::atomic<std::uint64_t> overflow{0};
    std::atomic<group*> groups[powers] = {};
  };

  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  /// The counter of bucket `index`, its group made if it has none yet. The writer only.
  static std::atomic<std::uint64_t>& counter(directory& dir, int index) {
    if (index == 0)
      return dir.underflow;
    if (index == size - 1)
      return dir.overflow;
    auto& slot = dir.groups[(index - 1) / sub_buckets];
    auto* g = slot.load(std::memory_order_acquire);
    if (!g) {
      g = new group{};
      slot.store(g, std::memory_order_release);
    }
    return g->counts[(index - 1) % sub_buckets];
  }
  /// Copies every bucket into `out` and returns their sum. Any thread.
  std::uint64_t take_snapshot(std::array<std::uint64_t, size>& out) const noexcept {
    auto* dir = dir_.load(std::memory_order_acquire);
    if (!dir)
      return 0;
    std::uint64_t total = 0;
    out[0] = dir->underflow.load(std::memory_order_relaxed);
    out[size - 1] = dir->overflow.load(std::memory_order_relaxed);
    for (int p = 0; p < powers; ++p)
      if (auto* g = dir->groups[p].load(std::memory_order_acquire))
        for (int k = 0; k < sub_buckets; ++k)
          out[1 + p * sub_buckets + k] = g->counts[k].load(std::memory_order_relaxed);
    for (auto c : out)
      total += c;
    return total;
  }

  std::atomic<directory*> dir_{nullptr};
};

} // namespace loopbridge::detail
