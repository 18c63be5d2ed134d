#pragma once

// The body of an event inbox, shared by the runtime (which offers events) and its reader.

#include <atomic>
#include <bitset>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include "loopbridge/events.hpp"

namespace loopbridge::detail {

/// The shared body of one event inbox: its filter, a bounded queue that drops the oldest, a
/// dropped counter, and an eventfd readable while events wait.
///
/// Threads: `offer` from the runtime's threads (the event loop); `take` from the subscriber's
/// thread; `close` from the runtime when it stops. All members are thread-safe.
class event_channel {
public:
  explicit event_channel(subscription s);
  ~event_channel();

  /// True if the subscription wants events of this type about this actor.
  bool wants(event_type t, const std::string& actor) const;
  /// Adds those of the events in `[first, last)` that this channel wants, in order, dropping
  /// the oldest if full; wakes the reader once.
  void offer(const event* first, const event* last);
  /// The oldest event, waiting up to `timeout`; nullopt on timeout or when closed and empty.
  std::optional<event> take(std::chrono::nanoseconds timeout);
  void close();
  bool closed() const;
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::size_t size() const;
  int fd() const noexcept { return efd_; }
  /// The event types this channel wants, as a bit set over `event_type`.
  unsigned type_mask() const noexcept { return type_mask_; }

private:
  void reset_fd_locked();

  unsigned type_mask_;
  std::set<std::string, std::less<>> actors_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<event> queue_;
  bool closed_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  int efd_ = -1;
};

} // namespace loopbridge::detail
