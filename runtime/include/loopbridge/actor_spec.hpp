#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "loopbridge/value.hpp"

namespace loopbridge {

/// What happens when a request arrives for an actor whose queue is full.
enum class overflow_policy {
  block,       ///< the submitter waits for room, up to the request's deadline
  reject,      ///< the new request fails at once with `loop.overloaded`
  drop_oldest, ///< the oldest queued request fails with `loop.overloaded`
};

/// Whether a failed instance is restarted.
enum class restart_policy { never, on_failure };

const char* to_string(overflow_policy p) noexcept;
const char* to_string(restart_policy p) noexcept;

/// Bounds on the requests an actor holds (queued plus in flight).
struct mailbox_spec {
  /// Maximum requests accepted and not yet finished; 0 = the runtime's default.
  std::size_t capacity = 0;
  overflow_policy overflow = overflow_policy::block;
};

/// The restart budget: at most `max_restarts` within any `period`.
struct restart_spec {
  restart_policy policy = restart_policy::never;
  std::uint32_t max_restarts = 3;
  std::chrono::nanoseconds period = std::chrono::seconds(60);
};

/// One named actor as a topology declares it: plain data, no YAML, no CAF.
/// The most instances one actor may have (2^20), from host code and from YAML alike.
inline constexpr std::uint32_t max_instances = 1u << 20;

/// The most instances with a thread of their own (`dedicated_thread`, `own_thread`) one actor
/// may have on this machine: half of what the kernel lets this user create (the smaller of
/// `/proc/sys/kernel/threads-max` and `RLIMIT_NPROC`), so the rest of the system keeps room.
/// Read from the system at each call; any thread.
std::uint32_t instance_thread_limit() noexcept;

struct actor_spec {
  std::string name;
  std::string kind;
  /// The kind's parameters (a map), validated against the kind's declarations at spawn.
  value params;
  /// Instances behind the name; more than one makes a pool. 0: the kind's default (1 for most
  /// kinds; the number of cores for kinds made for CPU or blocking work). At most
  /// `max_instances`; for kinds whose instances have threads of their own, at most what
  /// `instance_thread_limit()` allows.
  std::uint32_t count = 0;
  mailbox_spec mailbox;
  restart_spec restart;
  /// Stop the actor once its workers finished this many requests (0: never): one-shot actors,
  /// such as the thread `runtime::offload_separate` makes. Once stopped, a one-shot actor is
  /// retired: its name is forgotten (`actor`, `metrics` and `stop_actor` answer
  /// `loop.not_found`), handles to it answer with its stop, and it takes no routes.
  std::uint64_t stop_after = 0;
  /// Requests one instance may hold suspended (handlers returned, answers to come from a
  /// continuation, a timer or another thread) before it takes no new request until one of them
  /// ends (0: no bound beyond the mailbox's capacity).
  std::uint32_t max_suspended = 0;
  /// Actors that must be ready before this one starts (and stop after it).
  std::vector<std::string> depends_on;
  /// How long each instance may take to announce `ready`, counted from when its start begins
  /// (time it waits for a thread first does not count): it fails between one and two timeouts
  /// after that.
  std::chrono::nanoseconds ready_timeout = std::chrono::seconds(10);
  /// The node the actor runs on: the name of one of the topology's `nodes` (empty: this
  /// process). Only kinds whose requests and replies all have a wire form may run elsewhere
  /// (`kind_descriptor::portable`).
  std::string node;
  /// For an actor on a node: the requests in flight there when the node is lost are sent
  /// again, in their order, once it is back (each still within its deadline) instead of
  /// failing with `node.lost`. Only for idempotent kinds: such a request may run twice. An
  /// actor in this process refuses it (`loop.bad_request`; `check` says so too).
  bool resend_lost = false;
};

} // namespace loopbridge
