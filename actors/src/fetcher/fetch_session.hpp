#pragma once

// `fetch_session`: the fetcher's HTTP session, driven by its own I/O thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <curl/curl.h>

#include "loopbridge/actors/fetcher.hpp"

namespace loopbridge::actors {

/// Settings of one fetcher session (from the fetcher's params). The member initialisers are the
/// params' defaults: the fetcher's declarations read them from here, and nowhere else.
struct fetch_settings {
  long max_connections = 16;
  long max_per_host = 0;
  std::chrono::nanoseconds timeout{std::chrono::seconds(30)};
  std::int64_t max_body = 16 << 20;
  std::vector<std::string> schemes{"http", "https"};
  long redirects = 5;
  bool verify_tls = true;
  std::string ca_file;
  std::string user_agent = "loopbridge";
  std::map<std::string, std::string> headers;
};

/// One HTTP session: a libcurl multi handle and a share handle, driven by one I/O thread
/// (`run`). The fetcher's requests reach that thread straight from the event loop: the thread
/// serves the instance's `request_intake` every round, so the fetcher's handler (URL checks
/// included) and `on_cancel` run on it and hand it work with `accept` and `cancel`; the loop's
/// doorbell calls `wake`, which interrupts the poll (`curl_multi_wakeup`) only while the thread
/// waits in it. Replies go out through each request's responder from the I/O thread.
///
/// Requests and transfers: a request becomes a *transfer* (an easy handle libcurl runs) when
/// the session has room for it: fewer than `active_limit_` transfers in all and, with
/// `max_per_host`, fewer than that many to its host. The rest wait, in one queue per host
/// (without `max_per_host`, in one queue), and hosts with room take turns: a host whose
/// connections hang holds at most `max_per_host` of them while other hosts' requests go on.
/// A request's deadline is its timeout counted from its submission, whether it waits or
/// runs; at the deadline it fails with `fetch.timeout`, waiting or not. Easy handles exist
/// only for transfers, so 5,000 outstanding requests cost little memory; they are reused: one
/// that served a plain GET keeps the session's options for the next plain GET, and every
/// handle keeps its last URL parsed for the next request to the same URL.
///
/// Threads: `run`, `accept` and `cancel` on the session's own thread; `wake`, `stop` and
/// `describe` from any; `serve_from` before `run` starts.
class fetch_session {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  explicit fetch_session(fetch_settings s);
  ~fetch_session();
  fetch_session(const fetch_session&) = delete;
  fetch_session& operator=(const fetch_session&) = delete;

  /// False if libcurl could not create the session's handles (then `run` returns at once and
  /// every request fails).
  bool ok() const noexcept { return multi_ && share_; }
  /// The requests this session's thread serves (before `run`).
  void serve_from(std::shared_ptr<request_intake> intake) { intake_ = std::move(intake); }
  /// The I/O loop; returns after `stop`, having ended every request it still held with
  /// `loop.stopped`.
  void run();
  /// Takes a request (already checked) to start as soon as the session has room for it.
  /// I/O thread.
  void accept(fetch_request req, responder<fetch_reply> r);
  /// Aborts the transfer of request `id` (its socket is freed), if the session holds it;
  /// a request still waiting is skipped when its turn comes. I/O thread.
  void cancel(std::uint64_t id);
  /// Requests or cancels wait in the intake: interrupts the poll if the thread waits in it.
  void wake() noexcept;
  void stop();
  /// For shutdown reports: transfers active and queued.
  std::string describe();

  const fetch_settings& settings() const noexcept { return settings_; }

private:
  struct transfer;
  using transfer_ptr = std::unique_ptr<transfer>;
  struct host_queue;

  struct job;
  using job_list = std::list<job>;
  /// Waiting requests by deadline, earliest first.
  using deadline_index = std::multimap<time_point, job_list::iterator>;

  /// A request waiting for a transfer.
  struct job {
    fetch_request req;
    responder<fetch_reply> r;
    time_point deadline;
    std::chrono::nanoseconds timeout{0};
    host_queue* host = nullptr;
    deadline_index::iterator by_deadline; ///< its place in `waiting_by_deadline_`
  };

  /// The requests to one host (or, without `max_per_host`, to every host): its transfers and
  /// the requests waiting for one, in arrival order.
  struct host_queue {
    std::string key;        ///< `host:port`, lower case (empty: the session's only queue)
    std::size_t active = 0; ///< its transfers libcurl runs
    job_list waiting;
    bool listed = false; ///< in `ready_`
  };

  // -- the rounds of `run` (fetch_session.cpp) --
  /// Sets up the share and multi handles' options (once, on the I/O thread).
  void configure_multi();
  /// Lets libcurl work, then answers and releases the transfers it finished.
  void drive_transfers();
  /// How long the poll may wait: until the next deadline, at most `idle` or 100 ms.
  int poll_timeout_ms(time_point now) const;
  /// Waits in `curl_multi_poll` for `timeout_ms` unless a wake-up or stop came meanwhile.
  void wait_for_work(int timeout_ms);
  /// Ends every request the session still holds with `e` (when it stops).
  void end_all(const error& e);

  // -- waiting requests and their hosts' turns (fetch_session_queues.cpp) --
  /// Starts waiting requests while the session has room, hosts taking turns.
  void start_ready(time_point now);
  /// The queue a request to `url` waits in (created if needed).
  host_queue& queue_for(const std::string& url);
  bool has_room(const host_queue& h) const noexcept;
  /// Adds `h` to the hosts that take turns starting requests, if it has some and room.
  void list_if_ready(host_queue& h);
  /// Forgets `h` once it holds nothing (the session's only queue stays).
  void forget_if_idle(host_queue& h);
  /// Takes the first request waiting in `h` out of the queues.
  job take_first(host_queue& h);

  // -- deadlines (fetch_session_deadlines.cpp) --
  /// The deadline of a request submitted at `submitted` with `timeout` (max: none).
  static time_point deadline_of(time_point submitted, std::chrono::nanoseconds timeout);
  /// Fails with `fetch.timeout` every waiting request whose deadline is not after `now`.
  void expire_waiting(time_point now);
  /// The error of a request whose deadline passed while it waited.
  static error timed_out_waiting(const job& j);
  /// The deadline order of active transfers (see `first_deadline_`).
  void track_deadline(transfer* t);
  void untrack_deadline(transfer* t);
  /// Fails with `fetch.timeout` every transfer whose deadline is not after `now`.
  void expire_transfers(time_point now);

  // -- transfers (fetch_session_transfers.cpp; the type in fetch_transfer.hpp) --
  /// A transfer for a request: `configured` if it keeps the session's options.
  struct pooled {
    transfer_ptr t; ///< null if libcurl could not make one
    bool configured = false;
  };
  /// A pooled transfer (reset unless it can serve a `plain` GET as it is) or a new one.
  pooled obtain_transfer(bool plain);
  /// Makes `j` a transfer libcurl runs; fails it if no transfer can be made.
  void start_transfer(job j);
  /// Sets the options of a request that is not a plain GET (method, headers, body).
  void set_request_options(transfer& t);
  /// Sets the options every transfer of the session shares (after a reset).
  void configure(CURL* e);
  /// Frees the cookie-file list a transfer that never started leaves in `e`.
  static void forget_cookie_files(CURL* e);
  /// Takes `t` out of libcurl and the active transfers, back to the pool.
  void release(transfer& t);

  // -- replies (fetch_session_replies.cpp) --
  /// Answers the request of a transfer libcurl finished with `code`.
  void finish(transfer& t, CURLcode code);
  /// The error of a transfer that failed with `code` or broke HTTP.
  error failure_of(transfer& t, CURLcode code) const;
  /// True if `url`'s scheme is one the session allows.
  bool scheme_allowed(std::string_view url) const;

  fetch_settings settings_;
  std::size_t active_limit_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;

  std::shared_ptr<request_intake> intake_;
  std::atomic<bool> stopping_{false};

  // I/O thread only:
  /// Without `max_per_host`, every request waits here; with it, the queues of hosts with
  /// requests in the session are in `hosts_`.
  host_queue any_host_;
  std::unordered_map<std::string, host_queue> hosts_;
  /// Hosts with waiting requests and room, in turn order.
  std::deque<host_queue*> ready_;
  deadline_index waiting_by_deadline_;
  std::size_t waiting_total_ = 0;
  std::vector<transfer_ptr> active_; ///< the transfers libcurl runs (each knows its slot)
  std::vector<transfer*> finished_;  ///< those libcurl finished in this round
  /// Idle transfers with their easy handles: `plain_` are still configured for a plain GET
  /// (session options only) and are reused as they are; `spare_` need a reset first.
  std::vector<transfer_ptr> plain_;
  std::vector<transfer_ptr> spare_;
  /// Active transfers by deadline, earliest first: an intrusive list. The session enforces
  /// timeouts itself (two clock reads per round: to start transfers, to expire them) instead
  /// of libcurl's per-transfer timer, which costs the I/O thread more. Transfers of a session
  /// mostly share one timeout, so a new one goes at the end without a search.
  transfer* first_deadline_ = nullptr;
  transfer* last_deadline_ = nullptr;
  std::string protocols_; ///< the allowed schemes, as libcurl takes them
  /// The environment names a proxy for an allowed scheme (read once, when the session is
  /// made). Without one, the session tells libcurl so, which spares it reading five
  /// environment variables for every transfer.
  bool proxy_in_environment_ = false;
  curl_slist* session_headers_ = nullptr; ///< the session's headers (for plain GETs)
  /// Set while the I/O thread is about to wait in (or waits in) curl_multi_poll: only then
  /// does `wake` interrupt it. On a cache line of its own, with `rung_` (set by `wake`): the
  /// loop reads them for every wake-up, and the I/O thread writes the counters below every
  /// round.
  alignas(64) std::atomic<bool> asleep_{false};
  std::atomic<bool> rung_{false};
  alignas(64) std::atomic<std::size_t> active_count_{0};
  std::atomic<std::size_t> waiting_count_{0};
};

} // namespace loopbridge::actors
