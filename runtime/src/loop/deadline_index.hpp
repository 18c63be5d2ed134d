#pragma once

// The event loop's timer structure for request deadlines.

#include <cstdint>
#include <map>

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// The event loop's one timer structure: the requests that have a deadline, grouped in
/// one-millisecond buckets ordered by time. Insert and remove are O(1) for the common case
/// (deadlines near the newest bucket) and touch only the neighbouring requests, so tracking
/// 100k requests costs no per-request allocation and no heap reshuffling. A request expires in
/// the first `expire` call at or after its bucket's end, i.e. never early and at most 1 ms late.
///
/// Not thread-safe: owned by the event loop.
class deadline_index {
public:
  /// Tracks `st` (its `deadline` must not be `time_point::max()`).
  void insert(request_state* st);
  /// Stops tracking `st`; no effect if it is not tracked.
  void remove(request_state* st) noexcept;
  /// Removes every request whose bucket ended at or before `now`, calling `fn(request_state*)`
  /// for each, in deadline order (bucket by bucket).
  template <class F>
  void expire(time_point now, F&& fn);
  /// The end of the earliest bucket, or `time_point::max()` when empty.
  time_point next_expiry() const noexcept;
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

private:
  struct bucket {
    request_state* head = nullptr;
    request_state* tail = nullptr;
  };
  using bucket_map = std::map<std::int64_t, bucket>;

  static std::int64_t bucket_key(time_point t) noexcept;

  bucket_map buckets_;
  bucket_map::iterator last_ = buckets_.end(); ///< the bucket of the latest insert
  std::size_t size_ = 0;
};

template <class F>
void deadline_index::expire(time_point now, F&& fn) {
  auto limit = bucket_key(now);
  while (!buckets_.empty() && buckets_.begin()->first < limit) {
    auto it = buckets_.begin();
    auto* st = it->second.head;
    // Unlink the whole bucket first: `fn` may insert or remove other requests.
    if (last_ == it)
      last_ = buckets_.end();
    buckets_.erase(it);
    while (st) {
      auto* next = st->links.deadline_next;
      st->links.deadline_prev = st->links.deadline_next = nullptr;
      st->links.deadline_bucket = nullptr;
      --size_;
      fn(st);
      st = next;
    }
  }
}

} // namespace loopbridge::detail
