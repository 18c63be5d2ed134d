#pragma once

// An inbox of reference-counted nodes (requests, joins) that any thread pushes to and one
// consumer drains.

#include <atomic>
#include <cstddef>
#include <mutex>

#include "loop/mpsc_queue.hpp"
#include "threads/sleep_flag.hpp"

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
/// A producer whose node the consumer does not need at once pushes it *quiet* (`push_quiet`):
/// it waits for the consumer's next drain instead of waking it, within bounds — a quiet node
/// wakes the consumer at every `quiet_batch`-th one, when the consumer sleeps without a timer,
/// and when the consumer began wanting such nodes after the producer decided (`want_now`).
/// The event loop takes workers' done reports this way (see `loop_sink`).
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

  /// Appends `n` (adopting one reference) as a node the consumer need not see at once: it
  /// takes it at its next drain, which something else brings (a `push`, its own timer: see
  /// `sleep`). Returns true if the consumer must be woken after all (as for `push`): at every
  /// `quiet_batch`-th quiet node since the last drain (what waits stays bounded), while the
  /// consumer sleeps without a timer (`sleep` said so), or when `epoch` moved since the
  /// producer read it as `seen` before deciding that its node may wait (`want_now`).
  bool push_quiet(Node* n, std::uint32_t seen) noexcept {
    queue_.push(n);
    auto quiet = quiet_.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (closed_.load(std::memory_order_acquire)) {
      release_all();
      return false;
    }
    if (quiet % quiet_batch != 0 && !asleep_.asleep() &&
        epoch_.load(std::memory_order_seq_cst) == seen)
      return false;
    return !wake_pending_.exchange(true, std::memory_order_acq_rel);
  }

  /// What a producer reads before it decides from the consumer's published state (a flag the
  /// consumer sets with `want_now`) that its node may wait: passed to `push_quiet`. Any thread.
  std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_seq_cst); }

  /// Consumer: it has just published that it wants some producers' nodes at once. Returns true
  /// if quiet nodes wait that it must drain now: any producer that decided on the old state
  /// either pushed before this returned (counted here) or sees the new epoch and wakes it.
  bool want_now() noexcept {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    return quiet_.load(std::memory_order_seq_cst) != 0;
  }

  /// Quiet nodes pushed since the last `begin_drain` (a snapshot). Any thread.
  std::uint32_t quiet() const noexcept { return quiet_.load(std::memory_order_seq_cst); }

  /// Consumer's thread, about to sleep: true if it may sleep until woken (no quiet node waits,
  /// and every later quiet node wakes it); false if quiet nodes wait, and it must come back
  /// for them by itself (sleep with a timer, then drain). After a true, `woke` on waking.
  bool sleep() noexcept { return asleep_.sleep(quiet_); }
  /// Consumer's thread: awake again after `sleep` returned true.
  void woke() noexcept { asleep_.woke(); }

  /// Once the consumer has drained for the last time (it must not pop again): releases the
  /// queued nodes and makes every later `push` release its own. Any thread; idempotent.
  void close() noexcept {
    closed_.store(true, std::memory_order_relaxed);
    wake_pending_.exchange(true, std::memory_order_acq_rel);
    release_all();
  }

  /// Consumer: clears the wake flag before draining, so a push racing with the drain either is
  /// seen by it or wakes the consumer again.
  /// Every quiet node pushed before this call is seen by the drain (or counted again).
  void begin_drain() noexcept {
    quiet_.store(0, std::memory_order_seq_cst);
    wake_pending_.exchange(false, std::memory_order_acq_rel);
  }

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

  /// Quiet nodes per wake-up at most (see `push_quiet`).
  static constexpr std::uint32_t quiet_batch = 32;

  mpsc_queue queue_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::uint32_t> quiet_{0}; ///< quiet nodes since the last drain
  std::atomic<std::uint32_t> epoch_{0}; ///< bumped by `want_now`
  sleep_flag asleep_;                   ///< the consumer sleeps without a timer
  std::atomic<bool> closed_{false};
  std::mutex closed_mutex_;
};

/// Requests on their way to the event loop (submissions and done reports).
using request_inbox = node_inbox<request_state>;

} // namespace loopbridge::detail
