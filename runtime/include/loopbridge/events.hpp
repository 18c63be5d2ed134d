#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/error.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {

/// An instance of `actor` finished starting: its resources are up and it takes requests.
struct ready_event {
  std::string actor;
  std::uint32_t instance = 0;
  /// What the instance announced with `ready` (e.g. the port an origin listens on).
  value info;
  template <class Inspector>
  friend auto inspect(Inspector& f, ready_event& x) {
    return f(caf::meta::type_name("ready"), field("actor"), x.actor, field("instance"), x.instance,
             field("info"), x.info);
  }
};

/// An instance of `actor` could not start (or was not ready in time).
struct start_failed_event {
  std::string actor;
  std::uint32_t instance = 0;
  loopbridge::error reason;
  template <class Inspector>
  friend auto inspect(Inspector& f, start_failed_event& x) {
    return f(caf::meta::type_name("start_failed"), field("actor"), x.actor, field("instance"),
             x.instance, field("reason"), x.reason);
  }
};

/// An instance of `actor` finished one request (the seed's add_done_callback, as a message).
struct done_event {
  std::string actor;
  std::uint32_t instance = 0;
  std::uint64_t request_id = 0;
  /// Empty when the request succeeded; otherwise its error.
  loopbridge::error error;
  /// From acceptance by the event loop to the worker's report.
  std::chrono::nanoseconds latency{0};
  bool ok() const noexcept { return error.code().empty(); }
  template <class Inspector>
  friend auto inspect(Inspector& f, done_event& x) {
    return f(caf::meta::type_name("done"), field("actor"), x.actor, field("instance"), x.instance,
             field("request_id"), x.request_id, field("error"), x.error, field("latency"),
             x.latency);
  }
};

/// `actor` stopped: why, what its stop did, and its totals since it was spawned.
///
/// What the stop did covers the time from when the actor began to stop (its drain) until it
/// stopped: requests that `completed` with a reply, that `failed` with an error of their own,
/// and that the stop `cancelled` (still queued, or still running when its deadline passed) —
/// each counted by the outcome its future got, so a reply that beat the stop by a hair counts
/// as completed, never as cancelled. `abandoned` counts the cancelled ones an instance was
/// still running: its thread may go on with them (the shutdown report names stuck threads).
struct stopped_event {
  std::string actor;
  loopbridge::error reason;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t abandoned = 0;
  /// Since the actor was spawned (its metrics when it stopped).
  std::uint64_t total_received = 0;
  std::uint64_t total_completed = 0;
  std::uint64_t total_failed = 0;
  std::uint64_t total_cancelled = 0;
  template <class Inspector>
  friend auto inspect(Inspector& f, stopped_event& x) {
    return f(caf::meta::type_name("stopped"), field("actor"), x.actor, field("reason"), x.reason,
             field("completed"), x.completed, field("failed"), x.failed, field("cancelled"),
             x.cancelled, field("abandoned"), x.abandoned, field("total_received"),
             x.total_received, field("total_completed"), x.total_completed, field("total_failed"),
             x.total_failed, field("total_cancelled"), x.total_cancelled);
  }
};

/// An instance of `actor` failed and was restarted (`restarts` so far within the budget).
struct restarted_event {
  std::string actor;
  std::uint32_t instance = 0;
  std::uint32_t restarts = 0;
  loopbridge::error reason;
  template <class Inspector>
  friend auto inspect(Inspector& f, restarted_event& x) {
    return f(caf::meta::type_name("restarted"), field("actor"), x.actor, field("instance"),
             x.instance, field("restarts"), x.restarts, field("reason"), x.reason);
  }
};

/// A handler of `actor` (or, with `actor` "loop", something on the event loop's thread) has run
/// for `elapsed`, longer than `runtime.slow_handler`, and still runs: published once per
/// occurrence, while it runs (asyncio's debug mode, as a message). A scheduled kind seen here
/// blocks the threads other actors need: make it `dedicated_thread`.
struct slow_handler_event {
  std::string actor;
  std::uint32_t instance = 0;
  /// The request type it handles; empty for a timer, a task or another message.
  std::string request_type;
  std::chrono::nanoseconds elapsed{0};
  /// The thread it runs on (`lb.sched.1`, `lb.loop`, ...).
  std::string thread;
  template <class Inspector>
  friend auto inspect(Inspector& f, slow_handler_event& x) {
    return f(caf::meta::type_name("slow_handler"), field("actor"), x.actor, field("instance"),
             x.instance, field("request_type"), x.request_type, field("elapsed"), x.elapsed,
             field("thread"), x.thread);
  }
};

/// The connection to `node` (a process that runs some of the topology's actors) is up: its
/// actors take requests. Published when it first connects and each time it comes back.
struct node_up_event {
  std::string node;
  std::string address; ///< `host:port`
  template <class Inspector>
  friend auto inspect(Inspector& f, node_up_event& x) {
    return f(caf::meta::type_name("node_up"), field("node"), x.node, field("address"), x.address);
  }
};

/// The connection to `node` went (`node.lost`: what it held failed) or could not be made
/// (`node.unreachable`, `node.refused`). The runtime keeps trying; `node_up` follows when the
/// node is back. Published once per change, not per failed attempt.
struct node_down_event {
  std::string node;
  std::string address;
  loopbridge::error reason;
  template <class Inspector>
  friend auto inspect(Inspector& f, node_down_event& x) {
    return f(caf::meta::type_name("node_down"), field("node"), x.node, field("address"), x.address,
             field("reason"), x.reason);
  }
};

/// A lifecycle event. Events are messages: they are queued for the subscriber and read by its
/// own thread; no callback ever runs on a foreign thread.
using event = std::variant<ready_event, start_failed_event, done_event, stopped_event,
                           restarted_event, slow_handler_event, node_up_event, node_down_event>;

/// The kinds of events, in the order of `event`'s alternatives.
enum class event_type : std::uint8_t {
  ready,
  start_failed,
  done,
  stopped,
  restarted,
  slow_handler,
  node_up,
  node_down
};

event_type type_of(const event& e) noexcept;
const char* to_string(event_type t) noexcept;
/// Parses `ready`, `start_failed`, `done`, `stopped`, `restarted`, `slow_handler`, `node_up`,
/// `node_down`.
std::optional<event_type> parse_event_type(std::string_view text) noexcept;
/// The actor an event is about; for `node_up` and `node_down`, the node (a subscription's
/// `actors` filter names nodes the same way).
const std::string& actor_of(const event& e) noexcept;
/// One line for logs and tests: `stopped echo: loop.stopped ... (completed 3, cancelled 1)`.
std::string to_string(const event& e);

/// Which events an inbox receives.
struct subscription {
  /// Event types to receive; empty: all.
  std::vector<event_type> types;
  /// Actors whose events to receive; empty: all.
  std::vector<std::string> actors;
  /// Bounded: when full, the oldest event is dropped (and counted).
  std::size_t capacity = 1024;
};

namespace detail {
class event_channel;
}

/// A host's bounded inbox of lifecycle events, from `runtime::subscribe`.
///
/// Threads: read by one thread at a time (`next`, `try_next`); events are added by the
/// runtime's threads. `fd()` is an eventfd, readable while events are waiting, for hosts that
/// poll. Ordering: events about one actor arrive in the order they happened. When the inbox is
/// full the oldest event is dropped and `dropped()` counts it. Unsubscribes when destroyed.
class event_inbox {
public:
  event_inbox() = default;
  explicit event_inbox(std::shared_ptr<detail::event_channel> channel);
  ~event_inbox();
  event_inbox(event_inbox&&) noexcept;
  event_inbox& operator=(event_inbox&&) noexcept;

  /// The oldest waiting event, waiting up to `timeout`: `loop.timeout` when none came,
  /// `loop.stopped` once the runtime stopped and the inbox is empty, `loop.would_deadlock` on a
  /// scheduler thread when nothing is waiting.
  result<event> next(std::chrono::nanoseconds timeout);
  /// The oldest waiting event, if any. Never blocks.
  std::optional<event> try_next();
  /// Events dropped because the inbox was full.
  std::uint64_t dropped() const noexcept;
  /// Events waiting.
  std::size_t size() const noexcept;
  /// Readable while events are waiting.
  int fd() const noexcept;
  bool valid() const noexcept { return channel_ != nullptr; }

private:
  std::shared_ptr<detail::event_channel> channel_;
};

} // namespace loopbridge
