#pragma once

// Whether a consumer sleeps without a timer, for producers that may leave it asleep.

#include <atomic>

namespace loopbridge::detail {

/// The flag a consumer raises while it sleeps without a timer, so that producers who would
/// otherwise let their items wait for its next drain wake it instead. A Dekker pair with the
/// producers' count of such items: the consumer raises the flag and then reads the count; a
/// producer adds to the count and then reads the flag (all sequentially consistent), so either
/// the consumer sees the item and stays up for it, or the producer sees the flag and wakes it.
///
/// Threads: `sleep` and `woke` by the consumer's thread; `asleep` by any thread.
class sleep_flag {
public:
  /// The consumer, about to sleep: true if it may sleep until woken (`waiting` was 0 with the
  /// flag raised); false, with the flag down again, if items wait and it must come back for
  /// them by itself. After a true, `woke` on waking.
  template <class Count>
  bool sleep(const std::atomic<Count>& waiting) noexcept {
    asleep_.store(true, std::memory_order_seq_cst);
    if (waiting.load(std::memory_order_seq_cst) == 0)
      return true;
    asleep_.store(false, std::memory_order_relaxed);
    return false;
  }
  /// The consumer is awake again.
  void woke() noexcept { asleep_.store(false, std::memory_order_relaxed); }
  /// A producer, after it counted its item: whether it must wake the consumer.
  bool asleep() const noexcept { return asleep_.load(std::memory_order_seq_cst); }

private:
  std::atomic<bool> asleep_{false};
};

} // namespace loopbridge::detail
