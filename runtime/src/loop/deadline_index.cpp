// The event loop's deadline index: inserting, removing and expiring requests by deadline.
#include "loop/deadline_index.hpp"

namespace loopbridge::detail {

std::int64_t deadline_index::bucket_key(time_point t) noexcept {
  // Bucket k covers [k ms, k+1 ms); a request in bucket k expires once now >= (k+1) ms.
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void deadline_index::insert(request_state* st) {
  auto key = bucket_key(st->deadline);
  if (last_ == buckets_.end() || last_->first != key)
    last_ = buckets_.try_emplace(key).first;
  auto& b = last_->second;
  st->links.deadline_prev = b.tail;
  st->links.deadline_next = nullptr;
  if (b.tail)
    b.tail->links.deadline_next = st;
  else
    b.head = st;
  b.tail = st;
  st->links.deadline_bucket = &*last_;
  ++size_;
}

void deadline_index::remove(request_state* st) noexcept {
  auto* node = static_cast<bucket_map::value_type*>(st->links.deadline_bucket);
  if (!node)
    return;
  auto& b = node->second;
  auto* prev = st->links.deadline_prev;
  auto* next = st->links.deadline_next;
  if (prev)
    prev->links.deadline_next = next;
  else
    b.head = next;
  if (next)
    next->links.deadline_prev = prev;
  else
    b.tail = prev;
  st->links.deadline_prev = st->links.deadline_next = nullptr;
  st->links.deadline_bucket = nullptr;
  --size_;
  if (!b.head) {
    auto it = buckets_.find(node->first);
    if (last_ == it)
      last_ = buckets_.end();
    buckets_.erase(it);
  }
}

time_point deadline_index::next_expiry() const noexcept {
  if (buckets_.empty())
    return time_point::max();
  return time_point{std::chrono::milliseconds(buckets_.begin()->first + 1)};
}

} // namespace loopbridge::detail
