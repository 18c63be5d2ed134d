#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <curl/curl.h>

#include "loopbridge/actors/fetcher.hpp"

namespace loopbridge::actors {

/// `s` without its surrounding blanks (space, tab, CR, LF): header names and values.
std::string_view trim_blanks(std::string_view s);

/// `c` lower-cased if it is an ASCII capital, whatever the locale (HTTP header names).
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Settings of one fetcher session (from the fetcher's params).
struct fetch_settings {
  long max_connections = 16;
  long max_per_host = 0;
  std::chrono::nanoseconds timeout{std::chrono::seconds(30)};
  std::int64_t max_body = 16 << 20;
  std::vector<std::string> schemes{"http", "https"};
  long redirects = 5;
  bool verify_tls = true;
  std::string ca_file;
  std::string user_agent;
  std::map<std::string, std::string> headers;
};

/// One HTTP session: a libcurl multi handle and a share handle, driven by one I/O thread
/// (`run`). The fetcher's requests reach that thread straight from the event loop: the thread
/// serves the instance's `request_intake` every round, so the fetcher's handler (URL checks
/// included) and `on_cancel` run on it and hand it work with `accept` and `cancel`; the loop's
/// doorbell calls `wake`, which interrupts the poll (`curl_multi_wakeup`) only while the thread
/// waits in it. Replies go out through each request's responder from the I/O thread. At
/// most a bounded number of transfers are active at once (easy handles exist only for them);
/// the rest wait as jobs, so 5,000 outstanding requests cost little memory. Easy handles are
/// reused: one that served a plain GET keeps the session's options for the next plain GET, and
/// every handle keeps its last URL parsed for the next request to the same URL.
///
/// Threads: `run`, `accept` and `cancel` on the session's own thread; `wake`, `stop` and
/// `describe` from any; `serve_from` before `run` starts.
class fetch_session {
public:
  explicit fetch_session(fetch_settings s);
  ~fetch_session();

  /// False if libcurl could not create the session's handles (then `run` returns at once and
  /// every request fails).
  bool ok() const noexcept { return multi_ && share_; }
  /// The requests this session's thread serves (before `run`).
  void serve_from(std::shared_ptr<request_intake> intake) { intake_ = std::move(intake); }
  /// The I/O loop; returns after `stop`, having ended every request it still held with
  /// `loop.stopped`.
  void run();
  /// Takes a request (its URL already checked) to start when a transfer is free. I/O thread.
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
  struct job {
    fetch_request req;
    responder<fetch_reply> r;
  };

  bool start_transfer(job j, std::chrono::steady_clock::time_point now);
  /// The deadline order of active transfers (see `first_deadline_`).
  void track_deadline(transfer* t);
  void untrack_deadline(transfer* t);
  /// Fails with `fetch.timeout` every transfer whose deadline is not after `now`.
  void expire(std::chrono::steady_clock::time_point now);
  /// Sets the options every transfer of the session shares (after a reset).
  void configure(CURL* e);
  /// Frees the cookie-file list a transfer that never started leaves in `e`.
  static void forget_cookie_files(CURL* e);
  void finish(transfer& t, CURLcode code);
  void release(transfer* t);

  fetch_settings settings_;
  std::size_t active_limit_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;

  std::shared_ptr<request_intake> intake_;
  std::atomic<bool> stopping_{false};

  // I/O thread only:
  std::deque<job> waiting_;
  std::vector<transfer*> active_; ///< the transfers libcurl runs (each knows its slot)
  /// Idle transfers with their easy handles: `plain_` are still configured for a plain GET
  /// (session options only) and are reused as they are; `spare_` need a reset first.
  std::vector<transfer*> plain_;
  std::vector<transfer*> spare_;
  /// Active transfers by deadline, earliest first: an intrusive list. The session enforces
  /// timeouts itself (two clock reads per round: to start transfers, to expire them) instead
  /// of libcurl's per-transfer timer: 79.9 k instructions per request on the I/O thread
  /// against 80.8 k (docs/benchmarks.md). Transfers of a session mostly share one timeout, so
  /// a new one goes at the end without a search.
  transfer* first_deadline_ = nullptr;
  transfer* last_deadline_ = nullptr;
  std::string protocols_; ///< the allowed schemes, as libcurl takes them
  /// The environment names a proxy for an allowed scheme (read once, when the session is
  /// made). Without one, the session tells libcurl so, which spares it reading five
  /// environment variables for every transfer (~1.4 k instructions of ~80 k per request).
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
