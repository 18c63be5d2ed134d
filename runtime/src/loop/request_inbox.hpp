#pragma once

// An inbox of request states that any thread pushes to and one consumer drains.

#include <atomic>

#include "loop/mpsc_queue.hpp"

namespace loopbridge::detail {

/// The fast lane of an actor's mailbox for requests: an `mpsc_queue` of request states plus a
/// wake flag.
///
/// Producers (any thread) `push` a request, transferring one reference; when `push` returns
/// true the inbox went idle -> busy and the producer must wake the consumer with one CAF
/// message. The consumer (the owning actor) calls `begin_drain` when woken and then `pop`s
/// until empty. No allocation per request; one wake message per batch.
///
/// Ordering: FIFO per producer. Memory: everything a producer wrote before `push` is visible to
/// the consumer after it popped the request.
class request_inbox {
public:
  request_inbox() = default;
  request_inbox(const request_inbox&) = delete;
  request_inbox& operator=(const request_inbox&) = delete;
  /// Releases requests nobody drained (the consumer is gone).
  ~request_inbox() {
    while (auto* st = pop())
      st->release();
  }

  /// Appends `st` (adopting one reference). Returns true if the consumer must be woken.
  bool push(request_state* st) noexcept {
    queue_.push(st);
    return !wake_pending_.exchange(true, std::memory_order_acq_rel);
  }

  /// Consumer: clears the wake flag before draining, so a push racing with the drain either is
  /// seen by it or wakes the consumer again.
  void begin_drain() noexcept { wake_pending_.exchange(false, std::memory_order_acq_rel); }

  /// Consumer: after stopping a drain early (with requests left), returns true if the consumer
  /// must wake itself (no producer will).
  bool rearm() noexcept { return !wake_pending_.exchange(true, std::memory_order_acq_rel); }

  /// Consumer: the oldest request (with its reference), or nullptr when empty, or when a
  /// producer is between its two steps; that producer then finds the wake flag cleared and
  /// wakes the consumer again.
  request_state* pop() noexcept { return static_cast<request_state*>(queue_.pop()); }

private:
  mpsc_queue queue_;
  std::atomic<bool> wake_pending_{false};
};

} // namespace loopbridge::detail
