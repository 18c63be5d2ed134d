#pragma once

// An intrusive FIFO of requests with O(1) removal from the middle.

#include <cstddef>

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// A FIFO of requests linked through their `links.prev/next` fields: no allocation per entry,
/// O(1) push, pop and removal from the middle. A request is in at most one such queue (a
/// target's waiting queue or one instance's in-flight list). Not thread-safe: event loop only.
class request_queue {
public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  request_state* front() const noexcept { return head_; }

  void push_back(request_state* st) noexcept {
    st->links.prev = tail_;
    st->links.next = nullptr;
    if (tail_)
      tail_->links.next = st;
    else
      head_ = st;
    tail_ = st;
    ++size_;
  }

  void push_front(request_state* st) noexcept {
    st->links.prev = nullptr;
    st->links.next = head_;
    if (head_)
      head_->links.prev = st;
    else
      tail_ = st;
    head_ = st;
    ++size_;
  }

  request_state* pop_front() noexcept {
    auto* st = head_;
    if (st)
      remove(st);
    return st;
  }

  void remove(request_state* st) noexcept {
    if (st->links.prev)
      st->links.prev->links.next = st->links.next;
    else
      head_ = st->links.next;
    if (st->links.next)
      st->links.next->links.prev = st->links.prev;
    else
      tail_ = st->links.prev;
    st->links.prev = st->links.next = nullptr;
    --size_;
  }

  /// Calls `fn` for each request, front to back; `fn` must not modify this queue.
  template <class F>
  void for_each(F&& fn) const {
    for (auto* st = head_; st; st = st->links.next)
      fn(st);
  }

private:
  request_state* head_ = nullptr;
  request_state* tail_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace loopbridge::detail
