#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "loopbridge/actor_handle.hpp"
#include "loopbridge/actor_spec.hpp"
#include "loopbridge/blocking_pool.hpp"
#include "loopbridge/detail/pipeline.hpp"
#include "loopbridge/events.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/metrics.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/runtime_options.hpp"
#include "loopbridge/shutdown_report.hpp"
#include "loopbridge/stream.hpp"
#include "loopbridge/topology.hpp"

namespace loopbridge {

namespace detail {
struct fault_access;
struct value_access;
} // namespace detail

namespace detail {
class runtime_core;
}

/// A running loopbridge system: the actor scheduler, the event-loop actor that bridges host
/// threads and actors, and the actors spawned into it.
///
/// RAII: the constructor starts the scheduler and the event loop; the destructor performs the
/// graceful stop (see `stop`). Host threads talk to actors only through handles and futures.
///
/// Threads: `spawn`, `actor` and `stop` may be called from any host thread, concurrently.
/// None of them may be called from inside an actor's handler.
class runtime {
public:
  explicit runtime(kind_registry kinds, runtime_options options = {});
  /// Starts `topo`: its runtime settings, then its actors in dependency order (see `start`).
  /// Throws `error_exception` (`loop.start_failed` or `loop.bad_request`) if they cannot all
  /// start; whatever had started is stopped first. Kinds come first, as in every constructor.
  runtime(kind_registry kinds, const topology& topo);
  /// The same, with the arguments in the order of earlier releases.
  [[deprecated("kinds come first: runtime(kinds, topology)")]] runtime(const topology& topo,
                                                                       kind_registry kinds)
      : runtime(std::move(kinds), topo) {}
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Validates `spec` against its kind (unknown kind, bad params, duplicate name...) and starts
  /// its instances. Returns once the actor is accepted: requests may be submitted at once and
  /// are queued until its instances are ready. Nothing is started when validation fails.
  result<void> spawn(actor_spec spec);
  /// Shorthand for a single-instance actor with default settings.
  result<void> spawn(std::string name, std::string kind, value params = {});

  /// Starts a set of actors in dependency order (`depends_on`): everything is validated first
  /// (nothing starts if anything is wrong), then each wave of actors whose dependencies are
  /// ready is spawned and waited for until all its instances are ready. If a start fails or
  /// times out, the actors already started are stopped in reverse order and the error
  /// (`loop.start_failed`, naming the actor) is returned. Blocks the calling host thread.
  result<void> start(std::vector<actor_spec> specs);

  /// Starts a whole topology: its actors (see `start`), then its routes. Routes are checked
  /// first (actors named, an adapter registered for each hop), so a bad route starts nothing.
  result<void> start(const topology& topo);

  /// Serves this runtime's actors to main runtimes as `node` (what `loopbridge node` does):
  /// publishes a gateway on the node's address, which admits a process that proves it knows
  /// the secret in the node's variable, and runs the requests it sends on this runtime's
  /// actors. Returns the port it listens on (the node's, or the one the system chose for port
  /// 0). Needs `runtime_options::network`; `loop.bad_request` if the secret is missing or
  /// short, the address is taken, or the node uses TLS and `runtime_options::tls` is not its
  /// identity (or cannot be used). Host thread.
  result<std::uint16_t> serve_node(const node_spec& node);

  /// Adds a route: each reply a pipeline stage at `from` produces goes on to `to` as its request,
  /// through the adapter registered for that reply type (`kind_registry::adapt`). An actor has
  /// at most one outgoing route; routes may not form a cycle.
  result<void> add_route(std::string_view from, std::string_view to);

  /// Submits `request` to `entry` as the first stage of the pipeline its routes form; the future
  /// resolves with the last stage's reply, or with the first error, which names the stage that
  /// failed. The id, context and remaining deadline flow through every stage; cancelling reaches
  /// the stage that holds the request. `R` must be the last stage's reply type
  /// (`loop.bad_request` otherwise).
  template <class R, class Kind, class Req>
  [[nodiscard]] future<R>
  submit_pipeline(const actor_handle<Kind>& entry, Req request,
                  std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
    static_assert(handles_v<Kind, Req>, "the entry's kind does not serve this request type");
    auto parent = detail::make_ref<detail::pipeline_parent<R>>();
    auto first = detail::make_ref<detail::typed_request_state<Req>>(std::move(request));
    first->target = entry.record().get();
    submit_pipeline_states(detail::request_ref{parent}, detail::request_ref{first},
                           detail::tag_of<R>(), timeout);
    return future<R>{detail::ref_ptr<detail::reply_state<R>>{parent}, bridge()};
  }
  /// Where `from` routes pipeline stages to, if it has a route.
  std::optional<std::string> route_from(std::string_view from) const;

  /// Stops one actor like the seed's sentinel: requests it accepted keep being served, in
  /// order, until `timeout`; then the rest fail with `loop.stopped`; new requests fail at once.
  /// The future resolves with its `stopped` event (reason, completed, cancelled).
  future<stopped_event> stop_actor(std::string_view name, std::chrono::nanoseconds timeout);

  /// What instance 0 of actor `name` announced when it became ready (e.g. an origin's `port`
  /// and `url`); an empty map before that. `loop.not_found` if there is no such actor.
  result<value> ready_info(std::string_view name) const;

  /// A snapshot of every actor's counters, in start order: the live actors and the stopped
  /// ones that still hold their name (retired actors are not listed: see `shutdown_report`).
  /// Any thread, any time.
  std::vector<actor_metrics> metrics() const;
  /// One actor's counters; `loop.not_found` if there is none.
  result<actor_metrics> metrics(std::string_view name) const;
  /// A snapshot of each declared node's connection and traffic, as this process sees it, by
  /// name (a node nothing was placed on yet is listed, never connected). Any thread, any time.
  std::vector<node_metrics> nodes() const;

  /// A typed handle to the actor `name`; `loop.not_found` if there is none, `loop.wrong_kind`
  /// if it is not of kind `Kind`.
  template <class Kind>
  result<actor_handle<Kind>> actor(std::string_view name) const {
    auto rec = find(name, detail::tag_of<Kind>(), Kind::name);
    if (!rec)
      return std::move(rec).error();
    return actor_handle<Kind>{std::move(*rec), bridge()};
  }

  // -- blocking work ----------------------------------------------------------------------------

  /// The blocking pool `name`: an actor whose kind runs offloaded functions (`blocking`).
  /// `loop.not_found` if there is none, `loop.wrong_kind` if its kind runs no functions.
  result<blocking_pool> pool(std::string_view name) const;

  /// Runs `fn(args...)` (or `fn(token, args...)`) on the default blocking pool — the actor
  /// named by `runtime_options::offload_pool`, spawned with kind `blocking` on first use unless
  /// the topology declares it — and returns its future at once. See `blocking_pool::offload`.
  /// If there is no such pool (the kind is not registered) the future fails at once.
  template <class F, class... Args>
  [[nodiscard]] detail::offload_future_t<F, Args...> offload(F&& fn, Args&&... args) {
    auto p = default_pool();
    if (!p)
      return failed_offload<F, Args...>(std::move(p).error());
    return p->offload(std::forward<F>(fn), std::forward<Args>(args)...);
  }

  /// Runs `fn(args...)` on a thread of its own, for long-lived work that must not hold a
  /// pool's thread (a listener, a watcher): a one-instance `blocking` actor made for it, named
  /// `separate.N`. Its thread ends once the function returned. When the runtime stops it raises
  /// the function's cancel token and waits up to its shutdown budget: the future gets what the
  /// function returns by then (`deliver` answers with its counts this way), or `loop.stopped`
  /// if it does not return in time (its thread is left behind and named in the report).
  template <class F, class... Args>
  detail::offload_future_t<F, Args...> offload_separate(F&& fn, Args&&... args) {
    auto p = separate_pool();
    if (!p)
      return failed_offload<F, Args...>(std::move(p).error());
    return p->offload(std::forward<F>(fn), std::forward<Args>(args)...);
  }

  /// A bounded stream whose items come from `gen` — a callable returning `std::optional<T>`
  /// (nothing: the end) — called on the default blocking pool while it is less than
  /// `max_buffer` items ahead of the consumer. Between fills the generator holds no thread,
  /// so many streams share a small pool. Destroying the generator is its cleanup. See `stream`.
  template <class Gen>
  loopbridge::stream<detail::generated_t<Gen>> stream(Gen gen, std::size_t max_buffer) {
    using T = detail::generated_t<Gen>;
    auto p = default_pool();
    if (!p) {
      auto st = std::make_shared<detail::stream_state<T>>(max_buffer);
      st->finish(std::move(p).error());
      return loopbridge::stream<T>{std::move(st)};
    }
    return stream(*p, std::move(gen), max_buffer);
  }
  /// Like `stream(gen, max_buffer)`, on the blocking pool `pool`.
  template <class Gen>
  loopbridge::stream<detail::generated_t<Gen>> stream(const blocking_pool& pool, Gen gen,
                                                      std::size_t max_buffer) {
    auto s = detail::make_pulled_stream(pool, std::move(gen), max_buffer);
    track_stream(s.control());
    return s;
  }

  /// Delivers the items of `s` to the actor `to` as messages with credit: each item becomes the
  /// request `make(T&&)`, and at most `credit` of them are unanswered at a time (each reply
  /// returns one credit), so the producer runs at most `max_buffer + credit` items ahead of the
  /// actor. The pump runs on a thread of its own (`offload_separate`); the future resolves when
  /// the stream ended (or failed, or the runtime stopped and closed it) and every delivered
  /// request was answered, with the counts and the first error. Requests that fail do not stop
  /// the delivery. Any host thread may call it; it does not block.
  template <class T, class Kind, class Make>
  [[nodiscard]] future<stream_delivery> deliver(loopbridge::stream<T> s, actor_handle<Kind> to,
                                                Make make, std::size_t credit) {
    using Req = std::decay_t<decltype(make(std::declval<T&&>()))>;
    static_assert(handles_v<Kind, Req>, "the actor's kind does not serve make()'s request type");
    credit = std::max<std::size_t>(1, credit);
    auto pump = [s = std::make_shared<loopbridge::stream<T>>(std::move(s)), to = std::move(to),
                 make = std::move(make), credit](const cancel_token& token) mutable {
      stream_delivery out;
      std::deque<future<reply_t<Req>>> unanswered;
      auto settle_oldest = [&] {
        auto r = unanswered.front().get();
        unanswered.pop_front();
        if (r) {
          ++out.delivered;
        } else {
          ++out.failed;
          if (!out.first_error)
            out.first_error = r.error();
        }
      };
      for (;;) {
        while (unanswered.size() >= credit)
          settle_oldest(); // no credit left: wait for the actor
        if (token.cancelled()) {
          s->close();
          break;
        }
        auto item = s->next(std::chrono::milliseconds(50)); // short: notice cancellation
        if (!item) {
          if (item.is(errc::timeout))
            continue;
          if (!out.first_error)
            out.first_error = item.error();
          break;
        }
        if (!*item)
          break; // the stream ended
        unanswered.push_back(to.submit(make(std::move(**item))));
      }
      while (!unanswered.empty())
        settle_oldest();
      return out;
    };
    return offload_separate(std::move(pump));
  }

  /// A bounded stream fed by `producer(stream_writer<T>&)` running on a thread of its own
  /// (`offload_separate`), for long-lived producers that push as things happen. `push` waits
  /// while the producer is `max_buffer` items ahead, and throws `stream_closed` once the stream
  /// is closed. See `stream`.
  template <class T, class Producer>
  loopbridge::stream<T> stream_separate(Producer producer, std::size_t max_buffer) {
    auto st = std::make_shared<detail::stream_state<T>>(max_buffer);
    track_stream(st);
    auto f = offload_separate([ticket = detail::stream_ticket<T>{st},
                               producer = std::move(producer)](const cancel_token& token) mutable {
      ticket.ran = true;
      auto& s = *ticket.st;
      stream_writer<T> writer{&s, &token};
      try {
        producer(writer);
        s.finish(std::nullopt);
      } catch (const stream_closed&) {
        s.finish(std::nullopt); // closed by the consumer: nothing more to say
      } catch (const std::exception& e) {
        s.finish(
            error{errc::worker_failed, std::string{"the stream's producer threw: "} + e.what()});
      } catch (...) {
        s.finish(error{errc::worker_failed, "the stream's producer threw"});
      }
    });
    if (f.ready())
      if (auto r = f.get(); !r.ok())
        st->finish(r.error());
    return loopbridge::stream<T>{std::move(st)};
  }

  /// A bounded inbox of lifecycle events (ready, start_failed, done, stopped, restarted) for
  /// the types and actors `s` names. In effect as soon as this returns: events caused by later
  /// calls of this thread are delivered. After the runtime stopped, the inbox ends with
  /// `loop.stopped`.
  event_inbox subscribe(subscription s = {});

  /// Stops the runtime within `runtime_options::shutdown_budget`: new submits fail at once with
  /// `loop.stopped`; actors stop in reverse start order — except that an actor routing to
  /// another stops before it, so a pipeline drains from its first stage to its last — each
  /// draining what it accepted while the budget lasts; whatever is left is cancelled, so every
  /// pending request resolves before `stop` returns. A thread that does not finish in time (a
  /// blocking call that never returns) is left behind, never waited for forever: `stop` returns
  /// within the budget plus 200 ms whatever is stuck, and its report says what the stop did
  /// and names what was stuck. Idempotent (later calls return the same report);
  /// the destructor calls it. Any thread may call it (a signal watcher, a GUI's worker), not only
  /// the one that built the runtime.
  const shutdown_report& stop();

  const runtime_options& options() const noexcept;

private:
  result<std::shared_ptr<const detail::actor_record>>
  find(std::string_view name, const detail::type_tag* kind, std::string_view kind_name) const;
  std::shared_ptr<detail::bridge> bridge() const;
  void submit_pipeline_states(detail::request_ref parent, detail::request_ref first,
                              const detail::type_tag* final_reply,
                              std::chrono::nanoseconds timeout);
  result<blocking_pool> default_pool();
  void track_stream(std::weak_ptr<detail::stream_control> s);
  result<blocking_pool> separate_pool();
  template <class F, class... Args>
  detail::offload_future_t<F, Args...> failed_offload(error e) {
    using future_t = detail::offload_future_t<F, Args...>;
    using state = detail::offload_state<decltype(detail::bind_offload(
        std::declval<std::decay_t<F>>(), std::declval<std::decay_t<Args>>()...))>;
    using R = typename state::reply_type;
    detail::ref_ptr<detail::reply_state<R>> st = detail::make_ref<detail::unsent_state<R>>();
    st->fail(std::move(e));
    st->mark_settled();
    return future_t{std::move(st), bridge()};
  }

  friend struct detail::fault_access; // loopbridge/testing/faults.hpp
  friend struct detail::value_access; // loopbridge/tools/value_requests.hpp

  std::shared_ptr<detail::runtime_core> core_;
};

} // namespace loopbridge
