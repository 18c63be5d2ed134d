#pragma once

#include <atomic>

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// The fast lane of an actor's mailbox for requests: an intrusive, lock-free,
/// multi-producer/single-consumer FIFO of request states (Vyukov's queue) plus a wake flag.
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
  request_inbox() noexcept : head_(&stub_), tail_(&stub_) {}
  request_inbox(const request_inbox&) = delete;
  request_inbox& operator=(const request_inbox&) = delete;
  /// Releases requests nobody drained (the consumer is gone).
  ~request_inbox() {
    while (auto* st = pop())
      st->release();
  }

  /// Appends `st` (adopting one reference). Returns true if the consumer must be woken.
  bool push(request_state* st) noexcept {
    link(st);
    return !wake_pending_.exchange(true, std::memory_order_acq_rel);
  }

  /// Consumer: clears the wake flag before draining, so a push racing with the drain either is
  /// seen by it or wakes the consumer again.
  void begin_drain() noexcept { wake_pending_.exchange(false, std::memory_order_acq_rel); }

  /// Consumer: after stopping a drain early (with requests left), returns true if the consumer
  /// must wake itself (no producer will).
  bool rearm() noexcept { return !wake_pending_.exchange(true, std::memory_order_acq_rel); }

  /// Consumer: the oldest request (with its reference), or nullptr when empty (or when a
  /// producer is between its two steps: its own wake message then follows).
  request_state* pop() noexcept {
    inbox_node* tail = tail_;
    inbox_node* next = tail->inbox_next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (!next)
        return nullptr;
      tail_ = next;
      tail = next;
      next = next->inbox_next.load(std::memory_order_acquire);
    }
    if (next) {
      tail_ = next;
      return static_cast<request_state*>(tail);
    }
    if (tail != head_.load(std::memory_order_acquire))
      return retry_later(); // a producer is mid-push
    link(&stub_);
    next = tail->inbox_next.load(std::memory_order_acquire);
    if (next) {
      tail_ = next;
      return static_cast<request_state*>(tail);
    }
    return nullptr;
  }

private:
  void link(inbox_node* n) noexcept {
    n->inbox_next.store(nullptr, std::memory_order_relaxed);
    auto* prev = head_.exchange(n, std::memory_order_acq_rel);
    prev->inbox_next.store(n, std::memory_order_release);
  }
  request_state* retry_later() noexcept {
    // The producer that is mid-push will see `wake_pending_` false (we cleared it before
    // draining) and send a new wake message, so the consumer comes back for this request.
    return nullptr;
  }

  std::atomic<inbox_node*> head_;
  inbox_node* tail_;
  inbox_node stub_;
  std::atomic<bool> wake_pending_{false};
};

} // namespace loopbridge::detail
