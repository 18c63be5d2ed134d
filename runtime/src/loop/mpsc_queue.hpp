#pragma once

// A lock-free multi-producer, single-consumer FIFO of intrusive nodes.

#include <atomic>

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// An intrusive, lock-free, multi-producer/single-consumer FIFO of `inbox_node`s (Vyukov's
/// queue): `push` from any thread is one atomic exchange; `pop` is for one consumer at a time.
/// Nodes are not owned: callers manage their lifetime.
///
/// `pop` may return nullptr while a producer is between its two steps (the node is not linked
/// yet); callers pair the queue with a wake-up protocol that brings the consumer back.
class mpsc_queue {
public:
  mpsc_queue() noexcept : head_(&stub_), tail_(&stub_) {}
  mpsc_queue(const mpsc_queue&) = delete;
  mpsc_queue& operator=(const mpsc_queue&) = delete;

  void push(inbox_node* n) noexcept {
    n->inbox_next.store(nullptr, std::memory_order_relaxed);
    auto* prev = head_.exchange(n, std::memory_order_acq_rel);
    prev->inbox_next.store(n, std::memory_order_release);
  }

  inbox_node* pop() noexcept {
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
      return tail;
    }
    if (tail != head_.load(std::memory_order_acquire))
      return nullptr; // a producer is mid-push
    push(&stub_);
    next = tail->inbox_next.load(std::memory_order_acquire);
    if (next) {
      tail_ = next;
      return tail;
    }
    return nullptr;
  }

private:
  std::atomic<inbox_node*> head_;
  inbox_node* tail_;
  inbox_node stub_;
};

} // namespace loopbridge::detail
