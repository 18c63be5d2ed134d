#pragma once

// The runtime's core, shared by the `runtime` facade, every handle and future, the event loop
// and the workers. Its member functions are defined by concept in the folders beside this file.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event_channel.hpp"
#include "loop/caf_types.hpp"
#include "loop/direct_notes.hpp"
#include "loop/loop_thread.hpp"
#include "loop/request_inbox.hpp"
#include "loopbridge/detail/stream_state.hpp"
#include "memory/object_pool.hpp"
#include "nodes/node_traffic.hpp"
#include "scheduler/stall_detector.hpp"
#include "threads/gate.hpp"
#include "threads/thread_registry.hpp"

#include "loopbridge/blocking_pool.hpp"
#include "loopbridge/detail/bridge.hpp"
#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/events.hpp"
#include "loopbridge/future.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/metrics.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/runtime_options.hpp"
#include "loopbridge/shutdown_report.hpp"
#include "loopbridge/topology.hpp"
#include "loopbridge/value_future.hpp"

namespace loopbridge::detail {

/// Everything behind a `runtime`: the CAF actor system, the event-loop actor, the actor records
/// and the gates that make handles safe after shutdown. Shared (by shared_ptr) between the
/// runtime object, every handle and future (as their `bridge`), the event loop and the workers.
///
/// Threads: all public members are thread-safe. The CAF system exists from `start()` until
/// `stop()`; sends to actors go through `system_gate_`, so a send racing with shutdown is
/// dropped instead of touching a destroyed system.
class runtime_core final : public bridge, public std::enable_shared_from_this<runtime_core> {
public:
  runtime_core(kind_registry kinds, runtime_options options);
  ~runtime_core() override;

  // -- lifecycle (runtime_core.cpp, lifecycle/) -------------------------------------------------

  /// Creates the actor system and the event loop.
  void start();
  /// See `runtime::stop`. Idempotent.
  const shutdown_report& stop();
  result<void> start_all(std::vector<actor_spec> specs);
  result<void> start_topology(const topology& topo);
  future<stopped_event> stop_actor(std::string_view name, std::chrono::nanoseconds timeout);
  /// Records the stop of the actor behind `rec` for the shutdown report. Called by the loop.
  void record_stopped(const actor_record& rec, stopped_event e);

  // -- bridge (bridge/submission.cpp) ----------------------------------------------------------

  void submit(request_ref st, clock::duration timeout) noexcept override;
  /// Sets id, deadline and context from the submitting thread.
  void stamp(request_state& st, clock::duration timeout) noexcept;
  /// Takes an admission place (block policy) and hands `st` to the loop.
  void enqueue(request_ref st) noexcept;
  /// Hands `st` straight to its actor's lane when the loop keeps it open to submitters (see
  /// `request_lane::push_direct`) and nothing this thread submitted to it earlier is still on
  /// its way through the loop; true if it did (and took over `st`'s reference).
  bool submit_direct(request_ref& st) noexcept;
  bool cancel(request_ref st) noexcept override;
  /// `cancel`, with `why` as the request's error.
  bool cancel(request_ref st, error why) noexcept;

  // -- actor records (registry/actor_records.cpp) ----------------------------------------------

  result<void> spawn(actor_spec spec);
  /// Checks `spec` against its kind; the record is ready to commit.
  result<std::shared_ptr<actor_record>> validate(actor_spec spec) const;
  /// Registers a validated record and tells the loop to start it.
  result<void> commit(std::shared_ptr<actor_record> rec);
  result<record_ptr> find(std::string_view name, const type_tag* kind,
                          std::string_view kind_name) const;
  /// See `runtime::ready_info`.
  result<value> ready_info(std::string_view name) const;
  /// Forgets a stopped actor that nothing can name any more (see `event_loop`): its name (if
  /// still its own), its place in `metrics()` and the shutdown report (counted in `retired`),
  /// and its index, which the next spawn may take. Called by the event loop, after the loop
  /// itself let go of that index.
  void retire(const actor_record& rec);
  const kind_registry& kinds() const noexcept { return kinds_; }
  const runtime_options& options() const noexcept { return options_; }

  // -- requests by value and pipelines (bridge/value_requests.cpp, routes/) --------------------

  value_future submit_value(std::string_view actor, std::string_view request, const value& fields,
                            std::chrono::nanoseconds timeout);
  /// A request built from value fields, not yet submitted, and the record of its target: keep
  /// `target` until the request is submitted (the request points at the record without owning
  /// it, as a handle's requests do while their handle lives).
  struct made_request {
    request_ref state;
    record_ptr target;
  };
  /// A request for `actor` built from fields (not submitted).
  result<made_request> make_request(std::string_view actor, std::string_view request,
                                    const value& fields) const;
  void submit_pipeline(request_ref parent, request_ref first, const type_tag* final_reply,
                       clock::duration timeout);
  value_future submit_pipeline_value(std::string_view actor, std::string_view request,
                                     const value& fields, std::chrono::nanoseconds timeout);
  result<void> add_route(std::string_view from, std::string_view to);
  std::optional<std::string> route_from(std::string_view from) const {
    std::lock_guard<std::mutex> guard{records_mutex_};
    auto it = routes_.find(std::string{from});
    if (it == routes_.end())
      return std::nullopt;
    return it->second;
  }

  // -- blocking pools (bridge/offload_pools.cpp) -----------------------------------------------

  /// See `runtime::pool`.
  result<blocking_pool> pool(std::string_view name);
  /// See `runtime::default_pool`: spawned on first use, under the pools' lock.
  result<blocking_pool> default_pool();
  /// See `runtime::separate_pool`: a one-instance pool that stops once its function returned.
  result<blocking_pool> separate_pool();

  // -- fault injection (faults/fault_injection.cpp) --------------------------------------------

  /// See `testing::kill_instance`.
  result<void> kill_instance(std::string_view name, std::uint32_t instance);
  /// See `testing::slow_down`.
  result<void> slow_down(std::string_view name, std::chrono::nanoseconds delay);

  // -- nodes (nodes/) --------------------------------------------------------------------------

  /// Loads CAF's middleman into `cfg`, with the application identifier both sides must share
  /// and the heartbeats that detect a frozen peer.
  static void load_network(caf::actor_system_config& cfg, const std::string& app_id);

  /// Declares nodes that actors may be placed on (`start_topology` declares the topology's).
  /// A node declared again must be the same. Any thread.
  result<void> add_nodes(const std::vector<node_spec>& nodes);
  /// The link to node `name`, made on first use. Any thread.
  result<caf::actor> node_link(std::string_view name);
  /// See `runtime::serve_node`.
  result<std::uint16_t> serve_node(const node_spec& node);
  /// Why node `name` cannot be reached now; nullopt while it is up (or not in use). Any thread.
  std::optional<error> node_failure(std::string_view name) const;
  /// Records that node `name` is up (nullopt) or why it is not, counting its connections and
  /// losses. Called by its link.
  void set_node_failure(std::string_view name, std::optional<error> why);
  /// The traffic counters of node `name`, shared by the instances of its actors. Any thread.
  std::shared_ptr<node_traffic> traffic(std::string_view name);
  /// See `runtime::nodes`.
  std::vector<node_metrics> nodes() const;

  // -- metrics and events (events/) ------------------------------------------------------------

  std::vector<actor_metrics> metrics() const;
  result<actor_metrics> metrics(std::string_view name) const;
  /// A new event inbox; in effect as soon as this returns.
  event_inbox subscribe(subscription s);
  /// True if some subscriber wants events of type `t` (cheap: one atomic load).
  bool wants(event_type t) const noexcept {
    return wanted_types_.load(std::memory_order_acquire) & (1u << static_cast<unsigned>(t));
  }
  /// Hands `e` to every subscriber that wants it, or holds it while a `publish_batch` lives on
  /// the calling thread. Called by the event loop.
  void publish(const event& e);
  /// Hands the events of `[first, last)` to every subscriber that wants them, together.
  void offer(const event* first, const event* last);

  // -- streams (bridge/streams.cpp) ------------------------------------------------------------

  /// Streams still open; closed when the runtime stops.
  void track_stream(std::weak_ptr<stream_control> s);
  void close_streams();

  // -- for the event loop and the workers ------------------------------------------------------

  /// Appends the records committed since the last call to `into`, in commit order. The loop
  /// thread (on `spawn_atom`).
  void take_spawns(std::deque<record_ptr>& into);

  /// Sends `xs...` to the event loop from any thread (anonymously). False if the runtime's
  /// actor system is already gone; the message is then dropped.
  template <class... Ts>
  bool send_to_loop(Ts&&... xs) {
    gate_pass pass{system_gate_};
    if (!pass)
      return false;
    caf::anon_send(loop_, std::forward<Ts>(xs)...);
    return true;
  }
  /// Sends `xs...` to the actor behind `addr` after `delay` (CAF's clock), if it still exists
  /// then. Any thread.
  template <class... Ts>
  bool send_later(const caf::actor_addr& addr, std::chrono::nanoseconds delay, Ts&&... xs) {
    gate_pass pass{system_gate_};
    if (!pass)
      return false;
    auto dest = caf::actor_cast<caf::actor>(addr);
    if (!dest)
      return false;
    caf::delayed_anon_send(dest, delay, std::forward<Ts>(xs)...);
    return true;
  }
  /// Sends `xs...` to the actor behind `addr` if it still exists. Any thread.
  template <class... Ts>
  bool send_to(const caf::actor_addr& addr, Ts&&... xs) {
    gate_pass pass{system_gate_};
    if (!pass)
      return false;
    auto dest = caf::actor_cast<caf::actor>(addr);
    if (!dest)
      return false;
    caf::anon_send(dest, std::forward<Ts>(xs)...);
    return true;
  }
  /// Where workers report done requests.
  ref_ptr<completion_sink> sink() const { return sink_; }
  thread_registry& threads() noexcept { return threads_; }
  /// The runtime's stall detector (null when `slow_handler` is zero).
  stall_detector* stalls() const noexcept { return stalls_.get(); }

private:
  // -- helpers ---------------------------------------------------------------------------------

  /// Reports a handler that runs too long (on the detector's thread).
  void report_stall(const stall& s);
  /// The record of the actor `s` runs a handler of; null for the loop, or a retired actor.
  record_ptr stalled_actor(const stall& s) const;
  /// The event naming `s`, whose actor is `rec` (`stalled_actor`).
  slow_handler_event name_stall(const stall& s, const actor_record* rec) const;
  /// One line naming what `s` runs, where, and for how long.
  std::string describe(const stall& s) const;

  /// Why `name` cannot be given to a new actor ("" if it can): a live actor has it, or a
  /// route names it (its pipeline was wired to that actor). A stopped actor's name is free.
  /// Call with `records_mutex_` held.
  std::string name_in_use(const std::string& name) const;
  /// `name_in_use` for a name that `holder` has: why it cannot be given to a new actor.
  std::string name_held(const actor_record& holder, const std::string& name) const;
  /// What keeps the batch `specs` (whose names `in_batch` indexes) from starting beside the
  /// actors that exist: names in use, dependencies on unknown actors. Takes `records_mutex_`.
  std::vector<std::string>
  batch_name_problems(const std::vector<actor_spec>& specs,
                      const std::map<std::string, std::size_t>& in_batch) const;

  /// Where a pipeline that starts with `request` at `entry` ends: its last stage, the request
  /// that stage serves, its reply type and how many routes were followed.
  struct pipeline_end {
    std::string last;         ///< the last stage's actor name
    std::string last_request; ///< the request name the last stage serves
    const type_tag* reply = nullptr;
    std::size_t routes = 0;
  };
  result<pipeline_end> pipeline_reply(const actor_record& entry, const type_tag* request) const;
  result<void> check_route(const std::string& from, const std::string& to,
                           const std::map<std::string, const kind_descriptor*>& kinds,
                           const std::map<std::string, std::string>& routes) const;

  static actor_metrics snapshot(const actor_record& rec);

  /// Why `spec` (of `kind`) cannot run on the node it names ("" if it can, or names none).
  std::string placement_problem(const actor_spec& spec, const kind_descriptor& kind) const;
  /// The secret of `node` from its variable, if this process can connect it: an error naming
  /// the variable if it is unset or short, or, for a TLS node, saying why this process's TLS
  /// identity is missing or unusable.
  result<std::string> node_secret(const node_spec& node) const;
  /// Ends the links to nodes and the gateway (after the loop ended: no instance needs them).
  void stop_nodes();

  // The steps of `stop` (lifecycle/shutdown.cpp), in order, under `stop_mutex_`.
  /// Closes submission and streams and tells the loop to stop by `deadline`.
  void close_submission(time_point deadline);
  /// Makes room in the shutdown report for every actor, so the loop's `record_stopped` never
  /// moves a report of a million entries while it stops them.
  void reserve_report();
  /// Waits until the loop has ended or `until`; whether it ended.
  bool wait_for_loop(time_point until);
  /// Closes every subscriber's inbox (they have every event by now).
  void close_subscribers();
  /// Lets the actor system go: joined if the loop ended, else left behind; returns what still
  /// runs there then (one line each).
  std::vector<std::string> release_system(bool loop_ended);
  /// Writes the shutdown report and logs the stop.
  void write_report(time_point started, bool loop_ended, std::vector<std::string> stuck);

  // -- state (declaration order is destruction order: keep it) ---------------------------------

  kind_registry kinds_;
  runtime_options options_;

  std::shared_ptr<stall_detector> stalls_;
  std::unique_ptr<caf::actor_system_config> config_;
  /// Declared after the system: destroyed after it, since CAF's clock thread may still wake the
  /// loop thread (`loop_thread::notify`) until the system is gone.
  std::unique_ptr<loop_thread> loop_thread_;
  std::unique_ptr<caf::actor_system> system_;
  caf::actor loop_;
  /// The loop's inboxes: submissions from any thread, reports from workers (kept apart so a host
  /// thread submitting and the loop thread reporting do not contend for one cache line).
  std::shared_ptr<request_inbox> loop_inbox_ = std::make_shared<request_inbox>();
  std::shared_ptr<request_inbox> reports_inbox_ = std::make_shared<request_inbox>();
  /// Requests submitted straight to actors' lanes, for the loop to take in (`submit_direct`).
  std::shared_ptr<direct_notes> notes_ = std::make_shared<direct_notes>();
  ref_ptr<completion_sink> sink_;
  thread_registry threads_;

  gate submit_gate_; ///< open while host code may submit
  gate system_gate_; ///< open while the actor system exists
  std::atomic<std::uint64_t> next_id_{1};

  mutable std::mutex records_mutex_;
  /// Each kind's params resolved from none given: the actors spawned without params share
  /// them instead of each holding a copy of the defaults.
  mutable std::mutex defaults_mutex_;
  mutable std::unordered_map<const kind_descriptor*, params> default_params_;
  /// Name -> the actor that has it now (a stopped actor keeps its entry until the name is
  /// spawned again: handles to it, its counters and its stop stay reachable). Each key views
  /// the name in its record (so lookups by `string_view` make no string).
  std::unordered_map<std::string_view, record_ptr, std::hash<std::string_view>,
                     std::equal_to<std::string_view>,
                     pooled_allocator<std::pair<const std::string_view, record_ptr>>>
      records_;
  std::vector<record_ptr> by_index_;        ///< by index; null where an actor was retired
  std::vector<std::uint32_t> free_indices_; ///< indices of retired actors, for the next spawns
  /// Records committed since the loop last took them, in commit order; the commit that finds
  /// it empty sends the loop `spawn_atom` (one message for a burst of spawns).
  std::vector<record_ptr> spawns_;
  std::uint64_t next_sequence_ = 0;
  std::map<std::string, std::string> routes_; ///< from -> to

  /// Blocking pools (see `runtime::offload`): held while a pool is looked up and spawned, so
  /// that two threads asking for the default pool at once spawn it once.
  std::mutex pools_mutex_;
  std::uint64_t separate_count_ = 0; ///< `offload_separate` pools made so far (names them)

  /// Nodes actors may be placed on, the links to those in use, and this runtime's gateway
  /// when it serves as a node.
  mutable std::mutex nodes_mutex_;
  std::map<std::string, node_spec, std::less<>> nodes_;
  std::map<std::string, caf::actor, std::less<>> links_;
  /// A node's link as its link last reported it, and its traffic.
  struct node_state {
    bool up = false;
    std::uint64_t connects = 0;
    std::uint64_t losses = 0;
    std::optional<error> failure; ///< why it is down now
    std::shared_ptr<node_traffic> traffic = std::make_shared<node_traffic>();
  };
  std::map<std::string, node_state, std::less<>> node_states_; ///< nodes in use, by name
  std::string app_id_; ///< `node_app_id` of the kinds, made once at start (with the network)
  /// Why `options_.tls` cannot be used (`tls_problem`, checked once at start), or empty;
  /// CAF's TLS layer is loaded only when it is empty.
  std::string tls_problem_;
  caf::actor gateway_;

  std::mutex report_mutex_;
  shutdown_report report_;
  /// Whose stop each entry of `report_.actors` is (identity only, never dereferenced).
  std::vector<const actor_record*> report_owners_;

  std::mutex streams_mutex_;
  std::vector<std::weak_ptr<stream_control>> streams_;

  mutable std::mutex subscribers_mutex_;
  std::vector<std::shared_ptr<event_channel>> subscribers_;
  std::atomic<unsigned> wanted_types_{0};

  std::mutex stop_mutex_;
  bool stopped_ = false;
  std::mutex loop_done_mutex_;
  std::condition_variable loop_done_cv_;
  bool loop_done_ = false;
};

} // namespace loopbridge::detail
