// Event subscribers: handing out event inboxes and publishing events to those that want them.
#include "runtime_core.hpp"

#include <algorithm>

namespace loopbridge::detail {

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
  auto type = type_of(e);
  std::lock_guard<std::mutex> guard{subscribers_mutex_};
  bool pruned = false;
  for (auto& ch : subscribers_) {
    if (ch->closed()) {
      pruned = true;
      continue;
    }
    if (ch->wants(type, actor_of(e)))
      ch->offer(e);
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
