// Event subscribers: handing out event inboxes and publishing events to those that want them.
#include "runtime_core.hpp"

#include <algorithm>

#include "events/publish_batch.hpp"

namespace loopbridge::detail {

namespace {
/// Open `publish_batch` scopes on this thread, the events held in them and, for each, the
/// runtime that published it.
thread_local int tl_batch_depth = 0;
thread_local std::vector<event> tl_held;
thread_local std::vector<runtime_core*> tl_held_by;
} // namespace

publish_batch::publish_batch() noexcept {
  ++tl_batch_depth;
}

publish_batch::~publish_batch() {
  if (--tl_batch_depth == 0)
    flush();
}

void publish_batch::flush() noexcept {
  if (tl_held.empty())
    return;
  std::vector<event> held;
  std::vector<runtime_core*> by;
  held.swap(tl_held);
  by.swap(tl_held_by);
  for (std::size_t i = 0; i < held.size();) { // in runs of one runtime each
    std::size_t end = i + 1;
    while (end < held.size() && by[end] == by[i])
      ++end;
    by[i]->offer(held.data() + i, held.data() + end);
    i = end;
  }
  held.clear();
  by.clear();
  if (tl_held.empty()) { // keeps the buffers for the next batch
    tl_held.swap(held);
    tl_held_by.swap(by);
  }
}

event_inbox runtime_core::subscribe(subscription s) {
  auto channel = std::make_shared<event_channel>(std::move(s));
  std::lock_guard<std::mutex> guard{subscribers_mutex_};
  if (stopped_ && !system_)
    channel->close();
  else
    subscribers_.push_back(channel);
  wanted_types_.fetch_or(channel->type_mask(), std::memory_order_acq_rel);
  return event_inbox{std::move(channel)};
}

void runtime_core::publish(const event& e) {
  if (tl_batch_depth > 0) {
    tl_held.push_back(e);
    tl_held_by.push_back(this);
    return;
  }
  offer(&e, &e + 1);
}

void runtime_core::offer(const event* first, const event* last) {
  std::lock_guard<std::mutex> guard{subscribers_mutex_};
  bool pruned = false;
  for (auto& ch : subscribers_) {
    if (ch->closed()) {
      pruned = true;
      continue;
    }
    ch->offer(first, last);
  }
  if (pruned) {
    subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                      [](auto& ch) { return ch->closed(); }),
                       subscribers_.end());
    unsigned mask = 0;
    for (auto& ch : subscribers_)
      mask |= ch->type_mask();
    wanted_types_.store(mask, std::memory_order_release);
  }
}

} // namespace loopbridge::detail
