#pragma once

// An inbox of request states that any thread pushes to and one consumer drains.

#include <atomic>
#include <mutex>

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
///
/// Once the consumer is gone for good, `close` releases what is queued, and every later `push`
/// releases its request at once: a request that arrives after the last drain (a thread the stop
/// joined late reporting its end) must not stay referenced by the inbox, whose owner it may
/// itself keep alive.
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

  /// Appends `st` (adopting one reference). Returns true if the consumer must be woken; false
  /// also after `close`, when the request was released instead.
  bool push(request_state* st) noexcept {
    queue_.push(st);
    bool wake = !wake_pending_.exchange(true, std::memory_order_acq_rel);
    // Either this exchange read `close`'s (and so sees `closed_`), or `close`'s read this one
    // (and its release_all sees the request): no request is left behind in a closed inbox.
    if (closed_.load(std::memory_order_acquire)) {
      release_all();
      return false;
    }
    return wake;
  }

  /// Once the consumer has drained for the last time (it must not pop again): releases the
  /// queued requests and makes every later `push` release its own. Any thread; idempotent.
  void close() noexcept {
    closed_.store(true, std::memory_order_relaxed);
    wake_pending_.exchange(true, std::memory_order_acq_rel);
    release_all();
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
  /// The consumer's part, taken by whoever releases after `close` (one at a time).
  void release_all() noexcept {
    std::lock_guard<std::mutex> guard{closed_mutex_};
    while (auto* st = pop())
      st->release();
  }

  mpsc_queue queue_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  std::mutex closed_mutex_;
};

} // namespace loopbridge::detail
