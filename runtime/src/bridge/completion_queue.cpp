// `completion_queue`: watching requests and taking their tokens as they complete.
#include "loopbridge/completion_queue.hpp"

#include "bridge/completion_channel.hpp"
#include "bridge/round_trip.hpp"

namespace loopbridge {

completion_queue::completion_queue() : channel_(detail::make_ref<detail::completion_channel>()) {}
completion_queue::~completion_queue() = default;
completion_queue::completion_queue(completion_queue&&) noexcept = default;
completion_queue& completion_queue::operator=(completion_queue&&) noexcept = default;

result<std::size_t> completion_queue::watch_state(detail::request_state* st, std::size_t token) {
  if (!st)
    return error{errc::bad_request, "cannot watch an invalid future"};
  auto cookie = channel_->add(token);
  if (!st->attach_listener(detail::ref_ptr<detail::completion_listener>{channel_}, cookie)) {
    channel_->forget(cookie);
    return error{errc::bad_request, "this future is already watched by another queue or group"};
  }
  ++watched_;
  return token;
}

std::optional<std::size_t> completion_queue::try_pop() {
  auto token = channel_->try_pop();
  if (token < 0)
    return std::nullopt;
  return static_cast<std::size_t>(token);
}

result<std::size_t> completion_queue::pop(std::chrono::nanoseconds timeout) {
  if (auto token = try_pop())
    return *token;
  if (detail::blocking_forbidden())
    return error{errc::would_deadlock, "completion_queue::pop() on a runtime scheduler thread "
                                       "would stall the runtime"};
  // This thread waits for a result: its next submission is a round trip's (see round_trip.hpp).
  detail::round_trip_next() = true;
  auto token = channel_->pop(timeout);
  if (token < 0)
    return error{errc::timeout, "no completion within the timeout"};
  return static_cast<std::size_t>(token);
}

int completion_queue::fd() const noexcept {
  return channel_->fd();
}

} // namespace loopbridge
