#include "fetch_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

namespace loopbridge::actors {

namespace {

/// Requests the I/O thread takes from the intake per round before it drives its transfers.
constexpr std::size_t intake_budget = 256;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Equal, ASCII letters compared case-insensitively (HTTP header names), whatever the locale.
bool ascii_iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != lower[i])
      return false;
  return true;
}

std::chrono::nanoseconds micros(curl_off_t us) {
  return std::chrono::microseconds(us);
}

bool set_in_environment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v && *v; // libcurl ignores an empty proxy
}

/// Whether libcurl would find a proxy for one of `schemes` in the environment: the variable
/// `<scheme>_proxy`, its upper-case form (never for http: libcurl does not read HTTP_PROXY),
/// or `all_proxy`/`ALL_PROXY`.
bool proxy_in_environment(const std::vector<std::string>& schemes) {
  if (set_in_environment("all_proxy") || set_in_environment("ALL_PROXY"))
    return true;
  for (auto scheme : schemes) {
    for (auto& c : scheme)
      c = ascii_lower(c);
    if (set_in_environment(scheme + "_proxy"))
      return true;
    if (scheme == "http")
      continue;
    for (auto& c : scheme)
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (set_in_environment(scheme + "_PROXY"))
      return true;
  }
  return false;
}

} // namespace

std::string_view trim_blanks(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t b = 0, e = s.size();
  while (b < e && blank(s[b]))
    ++b;
  while (e > b && blank(s[e - 1]))
    --e;
  return s.substr(b, e - b);
}

/// One transfer and its easy handle. Transfers are pooled with their handles: a handle that
/// served a plain GET keeps its options (and its pointers to this object) for the next one.
struct fetch_session::transfer {
  CURL* easy = nullptr;
  fetch_request req;
  responder<fetch_reply> r;
  std::uint64_t id = 0;          ///< the request's id (the responder forgets it once answered)
  std::size_t slot = 0;          ///< its index in `active_` while active
  curl_slist* headers = nullptr; ///< this transfer's own header list (not the session's)
  /// A GET with no body and no headers of its own: its handle needs only per-request options.
  bool plain = false;
  bool completed = false; ///< finished with CURLE_OK (its handle may be reused as it is)
  bool head = false;      ///< a HEAD request: no body follows its Content-Length
  fetch_reply reply;
  /// The header lines of the latest response, as received: `reply.headers` parses them when
  /// (and on the thread where) they are first read.
  std::string header_lines;
  std::int64_t max_body = -1;
  bool too_large = false;
  /// When it fails with `fetch.timeout` (its timeout after it started), and its neighbours in
  /// the session's deadline order.
  std::chrono::steady_clock::time_point deadline;
  std::chrono::nanoseconds timeout{0};
  transfer* earlier = nullptr;
  transfer* later = nullptr;
  /// The per-request option last set on `easy` (-1: not since the handle was set up).
  curl_off_t max_file_set = -1;
  /// The request URL, parsed once for every transfer of this handle that fetches the same URL
  /// (`url_parsed` is what it holds; empty: nothing usable). libcurl takes it read-only
  /// (`CURLOPT_CURLU`); given the URL as a string instead, it parses it again for every
  /// transfer and rebuilds a normalised copy: ~12 k of the ~75 k instructions a 1 KiB GET costs
  /// the I/O thread (docs/benchmarks.md).
  CURLU* url = nullptr;
  std::string url_parsed;
  char errbuf[CURL_ERROR_SIZE] = {};

  transfer(CURL* e, responder<fetch_reply> p) : easy(e), r(std::move(p)) {}
  /// Frees the handle and what it points at (its header list, its parsed URL), in that order.
  /// The owner removes the handle from the multi handle first, if it was added.
  ~transfer() {
    forget_cookie_files(easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_url_cleanup(url);
  }
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;

  /// Points `easy` at `target` (`reconfigured`: the handle was reset or is new, so it holds no
  /// URL). The parse is kept for the next transfer of the same URL. If the URL handle cannot
  /// take it, libcurl gets the string and reports what is wrong with it as it always does.
  void set_url(const std::string& target, bool reconfigured) {
    if (url_parsed == target && !url_parsed.empty()) {
      if (reconfigured)
        curl_easy_setopt(easy, CURLOPT_CURLU, url);
      return;
    }
    url_parsed.clear();
    if (!url)
      url = curl_url();
    // The flags libcurl itself parses a string URL with (the session checked the scheme).
    if (url &&
        curl_url_set(url, CURLUPART_URL, target.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
      url_parsed = target;
      // libcurl keeps the URL string it made from the previous contents of the same URL
      // handle (the effective URL it reports, and what it logs) until the string is cleared.
      curl_easy_setopt(easy, CURLOPT_URL, static_cast<char*>(nullptr));
      curl_easy_setopt(easy, CURLOPT_CURLU, url);
      return;
    }
    curl_easy_setopt(easy, CURLOPT_CURLU, static_cast<CURLU*>(nullptr)); // else it would win
    curl_easy_setopt(easy, CURLOPT_URL, target.c_str());
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto bytes = size * n;
    if (t->max_body >= 0 && t->reply.body.size() + bytes > static_cast<std::size_t>(t->max_body)) {
      t->too_large = true;
      return 0; // aborts the transfer now, before downloading the rest
    }
    // As bytes of the body's own type: the insert is then one memmove, not a converting loop.
    auto* from = reinterpret_cast<const std::uint8_t*>(data);
    t->reply.body.insert(t->reply.body.end(), from, from + bytes);
    return bytes;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto bytes = size * n;
    if (bytes >= 5 && std::memcmp(data, "HTTP/", 5) == 0) { // a new response (a redirect, 1xx)
      t->header_lines.clear();
      return bytes;
    }
    if (t->header_lines.capacity() < 512)
      t->header_lines.reserve(512); // one allocation for a typical header block
    t->header_lines.append(data, bytes);
    // Content-Length, whatever the case (a blank before the colon is not HTTP: never seen).
    if (t->max_body < 0 || bytes < 16 || (data[0] | 0x20) != 'c' ||
        !ascii_iequals({data, 15}, "content-length:"))
      return bytes;
    auto value = trim_blanks({data + 15, bytes - 15});
    std::int64_t announced = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), announced);
    if (ec == std::errc::result_out_of_range) {
      t->too_large = true;
      return 0;
    }
    if (ec != std::errc{} || end == value.data())
      return bytes;
    if (announced > t->max_body) {
      t->too_large = true;
      return 0; // refuse before the body starts
    }
    // Room for the announced body at once (at most max_body), instead of growing by copies.
    if (announced > 0 && !t->head)
      t->reply.body.reserve(static_cast<std::size_t>(announced));
    return bytes;
  }
};

fetch_session::fetch_session(fetch_settings s)
    : settings_(std::move(s)),
      active_limit_(
          std::max<std::size_t>(64, 4 * static_cast<std::size_t>(settings_.max_connections))) {
  global_init();
  // Created here, before any other thread can call `submit` (which wakes the multi handle).
  multi_ = curl_multi_init();
  share_ = curl_share_init();
  for (auto& p : settings_.schemes)
    protocols_ += (protocols_.empty() ? "" : ",") + p;
  proxy_in_environment_ = proxy_in_environment(settings_.schemes);
  for (auto& [k, v] : settings_.headers)
    session_headers_ = curl_slist_append(session_headers_, (k + ": " + v).c_str());
}

fetch_session::~fetch_session() {
  for (auto* pool : {&plain_, &spare_})
    for (auto* t : *pool)
      delete t;
  curl_slist_free_all(session_headers_);
  if (multi_)
    curl_multi_cleanup(multi_);
  if (share_)
    curl_share_cleanup(share_);
}

void fetch_session::run() {
  if (!ok())
    return;
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, settings_.max_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, settings_.max_connections);
  if (settings_.max_per_host > 0)
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, settings_.max_per_host);
  std::vector<transfer*> done;
  bool serve_more = true; // the intake may hold requests from before the thread ran
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) {
      for (auto& j : waiting_)
        j.r.fail(error{errc::stopped, "the fetcher stopped"});
      waiting_.clear();
      break;
    }
    // The fetcher's handler runs here for each waiting request (`accept`), and `on_cancel` for
    // each cancel (`cancel`).
    if (intake_ && (rung_.exchange(false, std::memory_order_acq_rel) || serve_more))
      serve_more = intake_->serve(intake_budget);
    // Start waiting transfers while below the limit; skip the ones cancelled meanwhile.
    auto now = std::chrono::steady_clock::now();
    while (active_.size() < active_limit_ && !waiting_.empty()) {
      auto j = std::move(waiting_.front());
      waiting_.pop_front();
      if (j.r.cancelled()) {
        j.r.fail(error{errc::cancelled, "cancelled by the host"});
        continue;
      }
      start_transfer(std::move(j), now);
    }
    active_count_ = active_.size();
    waiting_count_ = waiting_.size();
    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    // All replies of the round first (their threads get going), then the handles' cleanup.
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      finish(*t, msg->data.result);
      done.push_back(t);
    }
    for (auto* t : done)
      release(t);
    done.clear();
    now = std::chrono::steady_clock::now();
    expire(now);
    bool idle = active_.empty() && waiting_.empty();
    if (!idle && active_.size() < active_limit_ && !waiting_.empty())
      continue; // room freed: start more before waiting
    long timeout_ms = idle ? 1000 : 100;
    if (first_deadline_) { // no later than the next deadline (rounded up: never early)
      auto left = std::chrono::ceil<std::chrono::milliseconds>(first_deadline_->deadline - now);
      timeout_ms = std::min<long>(timeout_ms, static_cast<long>(left.count()));
    }
    if (serve_more)
      continue;
    // `wake` interrupts the poll only while `asleep_` is set (a wake-up is a syscall on the
    // loop's side and one more on this one). It is set before the last look at `rung_`: a
    // wake-up either is seen here or finds it set and interrupts the poll.
    asleep_.store(true, std::memory_order_seq_cst);
    if (!rung_.load(std::memory_order_seq_cst) && !stopping_.load(std::memory_order_seq_cst))
      curl_multi_poll(multi_, nullptr, 0, static_cast<int>(timeout_ms), nullptr);
    asleep_.store(false, std::memory_order_relaxed);
  }
  for (auto* t : active_) {
    t->r.fail(error{errc::stopped, "the fetcher stopped"});
    curl_multi_remove_handle(multi_, t->easy);
    delete t;
  }
  active_.clear();
  first_deadline_ = last_deadline_ = nullptr;
}

void fetch_session::track_deadline(transfer* t) {
  auto* after = last_deadline_; // the last one due no later than t
  while (after && after->deadline > t->deadline)
    after = after->earlier;
  t->earlier = after;
  t->later = after ? after->later : first_deadline_;
  (t->earlier ? t->earlier->later : first_deadline_) = t;
  (t->later ? t->later->earlier : last_deadline_) = t;
}

void fetch_session::untrack_deadline(transfer* t) {
  (t->earlier ? t->earlier->later : first_deadline_) = t->later;
  (t->later ? t->later->earlier : last_deadline_) = t->earlier;
  t->earlier = t->later = nullptr;
}

void fetch_session::expire(std::chrono::steady_clock::time_point now) {
  while (first_deadline_ && first_deadline_->deadline <= now) {
    auto* t = first_deadline_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->timeout).count();
    t->r.fail(error{fetch_errc::timeout,
                    t->req.url + ": no complete response within " + std::to_string(ms) + " ms (" +
                        std::to_string(t->reply.body.size()) + " body bytes received)"});
    release(t); // removes the handle: the connection is closed
  }
}

void fetch_session::forget_cookie_files(CURL* e) {
  // `CURLOPT_COOKIEFILE ""` (which turns the cookie engine on) queues a list entry that libcurl
  // frees only when a transfer starts; a transfer that failed before that, or never ran, would
  // leave it behind when the handle is reset or cleaned up. Clearing the option frees it (the
  // session's cookies live in the share handle and stay).
  curl_easy_setopt(e, CURLOPT_COOKIEFILE, static_cast<char*>(nullptr));
}

void fetch_session::configure(CURL* e) {
  auto& s = settings_;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SHARE, share_);
  curl_easy_setopt(e, CURLOPT_COOKIEFILE, ""); // cookies live in the session only
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols_.c_str());
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols_.c_str());
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, s.redirects > 0 ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, s.redirects);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, s.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, s.verify_tls ? 2L : 0L);
  if (!s.ca_file.empty())
    curl_easy_setopt(e, CURLOPT_CAINFO, s.ca_file.c_str());
  if (!s.user_agent.empty())
    curl_easy_setopt(e, CURLOPT_USERAGENT, s.user_agent.c_str());
  if (!proxy_in_environment_) {
    // No proxy: said once here instead of libcurl looking it up (and no_proxy) per transfer.
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &transfer::on_body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &transfer::on_header);
  // No progress callback: a cancelled transfer is removed by the I/O thread when `cancel`
  // wakes it, and libcurl would call the callback several times per transfer.
}

bool fetch_session::start_transfer(job j, std::chrono::steady_clock::time_point now) {
  auto& q = j.req;
  bool get = q.method == "GET" || ascii_iequals(q.method, "get");
  bool plain = get && q.body.empty() && q.headers.empty();
  // A handle that served a plain GET keeps the session's options: a plain GET on it sets only
  // what differs per request. Any other handle is reset and configured from scratch.
  transfer* t = nullptr;
  bool configured = false;
  if (plain && !plain_.empty()) {
    t = plain_.back();
    plain_.pop_back();
    configured = true;
  } else if (!spare_.empty() || !plain_.empty()) {
    auto& from = spare_.empty() ? plain_ : spare_;
    t = from.back();
    from.pop_back();
    curl_easy_reset(t->easy);
  } else if (CURL* fresh = curl_easy_init()) {
    t = new transfer(fresh, std::move(j.r));
  } else {
    j.r.fail(error{errc::worker_failed, "libcurl could not create a transfer"});
    return false;
  }
  if (j.r.pending()) // not moved into a new transfer above
    t->r = std::move(j.r);
  t->req = std::move(q);
  t->id = t->r.id();
  t->plain = plain;
  t->completed = false;
  t->too_large = false;
  t->reply = fetch_reply{};
  t->header_lines.clear();
  t->errbuf[0] = 0;
  auto* e = t->easy;
  if (!configured) {
    configure(e);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    t->max_file_set = -1;
  }
  auto& s = settings_;
  auto timeout = t->req.timeout.count() > 0 ? t->req.timeout : s.timeout;
  t->max_body = t->req.max_body >= 0 ? t->req.max_body : s.max_body;
  t->set_url(t->req.url, !configured);
  t->timeout = timeout;
  // A timeout beyond the clock's range (a request may ask for years) means no deadline.
  t->deadline = timeout < std::chrono::steady_clock::time_point::max() - now
                    ? now + timeout
                    : std::chrono::steady_clock::time_point::max();
  track_deadline(t);
  auto max_file = static_cast<curl_off_t>(t->max_body >= 0 ? t->max_body : 0); // 0: no limit
  if (max_file != t->max_file_set) {
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, max_file);
    t->max_file_set = max_file;
  }
  if (plain) {
    t->head = false;
    if (!configured)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, session_headers_); // may be null: none
  } else {
    auto method = t->req.method;
    for (auto& c : method)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    t->head = method == "HEAD";
    auto headers = s.headers;
    for (auto& [k, v] : t->req.headers)
      headers[k] = v;
    for (auto& [k, v] : headers)
      t->headers = curl_slist_append(t->headers, (k + ": " + v).c_str());
    if (t->headers)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (!t->req.body.empty() || method == "POST" || method == "PUT") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body.data());
    }
  }
  curl_multi_add_handle(multi_, e);
  t->slot = active_.size();
  active_.push_back(t);
  return true;
}

void fetch_session::finish(transfer& t, CURLcode code) {
  auto& url = t.req.url;
  auto why = [&] { return std::string{t.errbuf[0] ? t.errbuf : curl_easy_strerror(code)}; };
  if (code == CURLE_OK) {
    t.completed = true;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    char* effective = nullptr;
    curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
    curl_off_t connect = 0, first = 0, total = 0;
    curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect);
    curl_easy_getinfo(t.easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total);
    if (t.req.raise_for_status && status >= 400) {
      t.r.fail(error{fetch_errc::http_status, "HTTP " + std::to_string(status) + " from " + url});
      return;
    }
    t.reply.status = status;
    // Without a redirect the effective URL is the request's: taken over, not copied.
    if (!effective || url == effective)
      t.reply.effective_url = std::move(url);
    else
      t.reply.effective_url = effective;
    t.reply.headers = fetch_headers::from_lines(std::move(t.header_lines));
    t.reply.connect_time = micros(connect);
    t.reply.first_byte_time = micros(first);
    t.reply.total_time = micros(total);
    t.r.reply(std::move(t.reply));
    return;
  }
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    t.r.fail(error{fetch_errc::too_large, "the body of " + url + " exceeds max_body (" +
                                              std::to_string(t.max_body) + " bytes)"});
    return;
  }
  error_code kind = fetch_errc::protocol;
  switch (code) {
    case CURLE_URL_MALFORMAT:
      kind = fetch_errc::bad_url;
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      kind = fetch_errc::scheme_not_allowed;
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      kind = fetch_errc::dns;
      break;
    case CURLE_COULDNT_CONNECT:
      kind = fetch_errc::connect_failed;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      kind = fetch_errc::timeout;
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
      kind = fetch_errc::tls;
      break;
    default:
      break;
  }
  t.r.fail(error{kind, url + ": " + why()});
}

void fetch_session::release(transfer* t) {
  untrack_deadline(t);
  auto* last = active_.back(); // out of `active_` by swapping the last one into its slot
  active_[t->slot] = last;
  last->slot = t->slot;
  active_.pop_back();
  curl_multi_remove_handle(multi_, t->easy);
  bool keeps_options = t->plain && t->completed;
  if (!keeps_options)
    forget_cookie_files(t->easy);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  t->req = fetch_request{}; // a request body may be large: not kept in the pool
  (keeps_options ? plain_ : spare_).push_back(t);
}

void fetch_session::accept(fetch_request req, responder<fetch_reply> r) {
  if (!ok()) {
    r.fail(error{errc::stopped, "the fetcher has no session"});
    return;
  }
  waiting_.push_back(job{std::move(req), std::move(r)});
}

void fetch_session::cancel(std::uint64_t id) {
  // A linear search: cancels are rare, and active transfers are at most `active_limit_`.
  // Not found: still waiting (skipped when its turn comes) or already done.
  auto it = std::find_if(active_.begin(), active_.end(),
                         [id](const transfer* t) { return t->id == id; });
  if (it == active_.end())
    return;
  auto* t = *it;
  t->r.fail(error{errc::cancelled, "cancelled by the host"});
  release(t); // removes the handle: the connection is closed or returned
}

void fetch_session::wake() noexcept {
  rung_.store(true, std::memory_order_seq_cst);
  if (multi_ && asleep_.load(std::memory_order_seq_cst) && asleep_.exchange(false))
    curl_multi_wakeup(multi_);
}

void fetch_session::stop() {
  stopping_.store(true, std::memory_order_seq_cst);
  if (multi_)
    curl_multi_wakeup(multi_);
}

std::string fetch_session::describe() {
  return std::to_string(active_count_.load()) + " transfers active, " +
         std::to_string(waiting_count_.load()) + " queued";
}

} // namespace loopbridge::actors
