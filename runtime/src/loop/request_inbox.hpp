#pragma once

// An inbox of reference-counted nodes (requests, joins) that any thread pushes to and one
// consumer drains.

#include <atomic>
#include <cstddef>
#include <mutex>

#include "loop/mpsc_queue.hpp"

namespace loopbridge::detail {

/// Lets go of a node the inbox holds and its consumer never took (found by argument-dependent
/// lookup, so each node type says what letting go means).
inline void inbox_release(request_state* st) noexcept {
  st->release();
}

/// The fast lane of an actor's mailbox: an `mpsc_queue` of `Node`s (reference-counted
/// `inbox_node`s: request states for the loop, joins for an instance's continuations) plus a
/// wake flag.
///
/// Producers (any thread) `push` a node, transferring one reference; when `push` returns
/// true the inbox went idle -> busy and the producer must wake the consumer with one CAF
/// message. The consumer (the owning actor) calls `begin_drain` when woken and then `pop`s
/// until empty. No allocation per node; one wake message per batch.
///
/// Ordering: FIFO per producer. Memory: everything a producer wrote before `push` is visible to
/// the consumer after it popped the node.
///
/// Once the consumer is gone for good, `close` releases what is queued, and every later `push`
/// releases its node at once: a node that arrives after the last drain (a thread the stop
/// joined late reporting its end) must not stay referenced by the inbox, whose owner it may
/// itself keep alive.
template <class Node>
class node_inbox {
public:
  node_inbox() = default;
  node_inbox(const node_inbox&) = delete;
  node_inbox& operator=(const node_inbox&) = delete;
  /// Releases nodes nobody drained (the consumer is gone).
  ~node_inbox() {
    while (auto* n = pop())
      inbox_release(n);
  }

  /// Appends `n` (adopting one reference). Returns true if the consumer must be woken; false
  /// also after `close`, when the node was released instead.
  bool push(Node* n) noexcept {
    queue_.push(n);
    bool wake = !wake_pending_.exchange(true, std::memory_order_acq_rel);
    // Either this exchange read `close`'s (and so sees `closed_`), or `close`'s read this one
    // (and its release_all sees the node): no node is left behind in a closed inbox.
    if (closed_.load(std::memory_order_acquire)) {
      release_all();
      return false;
    }
    return wake;
  }

  /// Once the consumer has drained for the last time (it must not pop again): releases the
  /// queued nodes and makes every later `push` release its own. Any thread; idempotent.
  void close() noexcept {
    closed_.store(true, std::memory_order_relaxed);
    wake_pending_.exchange(true, std::memory_order_acq_rel);
    release_all();
  }

  /// Consumer: clears the wake flag before draining, so a push racing with the drain either is
  /// seen by it or wakes the consumer again.
  void begin_drain() noexcept { wake_pending_.exchange(false, std::memory_order_acq_rel); }

  /// Consumer: after stopping a drain early (with nodes left), returns true if the consumer
  /// must wake itself (no producer will).
  bool rearm() noexcept { return !wake_pending_.exchange(true, std::memory_order_acq_rel); }

  /// Consumer: the oldest node (with its reference), or nullptr when empty, or when a producer
  /// is between its two steps; that producer then finds the wake flag cleared and wakes the
  /// consumer again.
  Node* pop() noexcept { return static_cast<Node*>(queue_.pop()); }

private:
  /// The consumer's part, taken by whoever releases after `close` (one at a time). Nodes are
  /// let go of outside the lock: letting go of one may push another into this inbox (a join's
  /// task holds a responder whose drop completes a request another join of this instance
  /// waits for), and that push releases it in turn.
  void release_all() noexcept {
    for (;;) {
      Node* taken[64];
      std::size_t n = 0;
      {
        std::lock_guard<std::mutex> guard{closed_mutex_};
        while (n < 64 && (taken[n] = pop()) != nullptr)
          ++n;
      }
      for (std::size_t i = 0; i < n; ++i)
        inbox_release(taken[i]);
      if (n < 64)
        return;
    }
  }

  mpsc_queue queue_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  std::mutex closed_mutex_;
};

/// Requests on their way to the event loop (submissions and done reports).
using request_inbox = node_inbox<request_state>;

} // namespace loopbridge::detail
