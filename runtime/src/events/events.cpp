// Events: their types, names and text, and the event inbox that reads them.
#include "loopbridge/events.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <sys/eventfd.h>
#include <unistd.h>

#include "events/event_channel.hpp"

#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge {

namespace {
constexpr const char* type_names[] = {"ready",     "start_failed", "done",    "stopped",
                                      "restarted", "slow_handler", "node_up", "node_down"};
} // namespace

event_type type_of(const event& e) noexcept {
  return static_cast<event_type>(e.index());
}

const char* to_string(event_type t) noexcept {
  return type_names[static_cast<std::size_t>(t)];
}

std::optional<event_type> parse_event_type(std::string_view text) noexcept {
  for (std::size_t i = 0; i < std::size(type_names); ++i)
    if (text == type_names[i])
      return static_cast<event_type>(i);
  return std::nullopt;
}

const std::string& actor_of(const event& e) noexcept {
  return std::visit(
      [](auto& x) -> const std::string& {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, node_up_event> || std::is_same_v<T, node_down_event>)
          return x.node;
        else
          return x.actor;
      },
      e);
}

std::string to_string(const event& e) {
  std::string s = std::string{to_string(type_of(e))} + " " + actor_of(e);
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ready_event>) {
          s += "/" + std::to_string(x.instance);
        } else if constexpr (std::is_same_v<T, start_failed_event>) {
          s += "/" + std::to_string(x.instance) + ": " + x.reason.to_string();
        } else if constexpr (std::is_same_v<T, done_event>) {
          s += "/" + std::to_string(x.instance) + " #" + std::to_string(x.request_id) +
               (x.ok() ? " ok" : " " + x.error.to_string());
        } else if constexpr (std::is_same_v<T, stopped_event>) {
          s += ": " + x.reason.to_string() + " (its stop: completed " +
               std::to_string(x.completed) + ", failed " + std::to_string(x.failed) +
               ", cancelled " + std::to_string(x.cancelled) +
               (x.abandoned > 0 ? " of which " + std::to_string(x.abandoned) + " running" : "") +
               "; in all: received " + std::to_string(x.total_received) + ", completed " +
               std::to_string(x.total_completed) + ", failed " + std::to_string(x.total_failed) +
               ", cancelled " + std::to_string(x.total_cancelled) + ")";
        } else if constexpr (std::is_same_v<T, restarted_event>) {
          s += "/" + std::to_string(x.instance) + " restart " + std::to_string(x.restarts) + ": " +
               x.reason.to_string();
        } else if constexpr (std::is_same_v<T, slow_handler_event>) {
          s += "/" + std::to_string(x.instance) +
               (x.request_type.empty() ? "" : " " + x.request_type) + " running for " +
               format_duration(x.elapsed) + " on " + x.thread;
        } else if constexpr (std::is_same_v<T, node_up_event>) {
          s += " (" + x.address + ")";
        } else {
          s += " (" + x.address + "): " + x.reason.to_string();
        }
      },
      e);
  return s;
}

// -- event_channel --------------------------------------------------------------------------------

namespace detail {

event_channel::event_channel(subscription s)
    : type_mask_(0),
      actors_(s.actors.begin(), s.actors.end()),
      capacity_(std::max<std::size_t>(1, s.capacity)),
      efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (efd_ < 0)
    throw std::runtime_error("eventfd failed");
  if (s.types.empty())
    type_mask_ = ~0u;
  for (auto t : s.types)
    type_mask_ |= 1u << static_cast<unsigned>(t);
}

event_channel::~event_channel() {
  close();
  ::close(efd_);
}

bool event_channel::wants(event_type t, const std::string& actor) const {
  if (!(type_mask_ & (1u << static_cast<unsigned>(t))))
    return false;
  return actors_.empty() || actors_.count(actor) > 0;
}

void event_channel::offer(const event* first, const event* last) {
  bool any = false;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (closed_)
      return;
    bool was_empty = queue_.empty();
    for (auto* e = first; e != last; ++e) {
      if (!wants(type_of(*e), actor_of(*e)))
        continue;
      if (queue_.size() >= capacity_) {
        queue_.pop_front();
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
      queue_.push_back(*e);
      any = true;
    }
    if (any && was_empty) { // readable while events wait
      std::uint64_t one = 1;
      while (write(efd_, &one, sizeof(one)) < 0 && errno == EINTR) {
      }
    }
  }
  if (any)
    cv_.notify_one();
}

void event_channel::reset_fd_locked() {
  std::uint64_t value;
  while (read(efd_, &value, sizeof(value)) < 0 && errno == EINTR) {
  }
}

std::optional<event> event_channel::take(std::chrono::nanoseconds timeout) {
  std::unique_lock<std::mutex> guard{mutex_};
  // A year stands for "no limit": the clock's now() plus the largest durations overflows.
  timeout = std::min<std::chrono::nanoseconds>(timeout, std::chrono::hours(24 * 365));
  if (timeout.count() > 0)
    cv_.wait_for(guard, timeout, [&] { return !queue_.empty() || closed_; });
  if (queue_.empty())
    return std::nullopt;
  auto e = std::move(queue_.front());
  queue_.pop_front();
  if (queue_.empty() && !closed_) // a closed inbox stays readable: pollers see the end
    reset_fd_locked();
  return e;
}

void event_channel::close() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    closed_ = true;
    // Wake pollers so they see the end (readable with nothing left).
    std::uint64_t one = 1;
    while (write(efd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
  cv_.notify_all();
}

bool event_channel::closed() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return closed_;
}

std::size_t event_channel::size() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return queue_.size();
}

} // namespace detail

// -- event_inbox ----------------------------------------------------------------------------------

event_inbox::event_inbox(std::shared_ptr<detail::event_channel> channel)
    : channel_(std::move(channel)) {}

event_inbox::~event_inbox() {
  if (channel_)
    channel_->close(); // the runtime drops closed channels from its subscriber list
}

event_inbox::event_inbox(event_inbox&&) noexcept = default;
event_inbox& event_inbox::operator=(event_inbox&& other) noexcept {
  if (this != &other) {
    if (channel_)
      channel_->close();
    channel_ = std::move(other.channel_);
  }
  return *this;
}

result<event> event_inbox::next(std::chrono::nanoseconds timeout) {
  if (!channel_)
    return error{errc::bad_request, "next() on an invalid event inbox"};
  if (auto e = channel_->take(std::chrono::nanoseconds::zero()))
    return std::move(*e);
  if (channel_->closed())
    return error{errc::stopped, "the runtime stopped"};
  if (detail::blocking_forbidden())
    return error{errc::would_deadlock,
                 "event_inbox::next() on a runtime scheduler thread would stall the runtime"};
  if (auto e = channel_->take(timeout))
    return std::move(*e);
  if (channel_->closed())
    return error{errc::stopped, "the runtime stopped"};
  return error{errc::timeout, "no event within the timeout"};
}

std::optional<event> event_inbox::try_next() {
  if (!channel_)
    return std::nullopt;
  return channel_->take(std::chrono::nanoseconds::zero());
}

std::uint64_t event_inbox::dropped() const noexcept {
  return channel_ ? channel_->dropped() : 0;
}

std::size_t event_inbox::size() const noexcept {
  return channel_ ? channel_->size() : 0;
}

int event_inbox::fd() const noexcept {
  return channel_ ? channel_->fd() : -1;
}

} // namespace loopbridge
