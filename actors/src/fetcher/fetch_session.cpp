#include "fetcher/fetch_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <string_view>

#include "loopbridge/text.hpp"

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

/// `host:port` of `url` (lower case; the scheme's port if it names none): the queue a request
/// waits in under `max_per_host`. A plain scan: the URL was checked before, and a key that
/// differs from libcurl's idea of the host only changes whose turn it is, not the limit
/// libcurl enforces on connections (`CURLMOPT_MAX_HOST_CONNECTIONS`).
std::string host_key(std::string_view url) {
  auto sep = url.find("://");
  auto scheme = sep == std::string_view::npos ? std::string_view{} : url.substr(0, sep);
  auto rest = sep == std::string_view::npos ? url : url.substr(sep + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host = authority, port;
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  std::string key{host};
  for (auto& c : key)
    c = ascii_lower(c);
  key += ':';
  if (!port.empty())
    key += port;
  else
    key += ascii_iequals(scheme, "https") ? "443" : "80";
  return key;
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
  responder<fetch_reply> r{{}, {}};
  std::uint64_t id = 0;          ///< the request's id (the responder forgets it once answered)
  std::size_t slot = 0;          ///< its index in `active_` while active
  host_queue* host = nullptr;    ///< the queue its request came from, while active
  curl_slist* headers = nullptr; ///< this transfer's own header list (not the session's)
  /// A GET with no body and no headers of its own: its handle needs only per-request options.
  bool plain = false;
  bool completed = false; ///< finished with CURLE_OK (its handle may be reused as it is)
  bool head = false;      ///< a HEAD request: no body follows its Content-Length
  fetch_reply reply;
  /// The header lines of the latest response, as received: `reply.headers` parses them when
  /// (and on the thread where) they are first read.
  std::string header_lines;
  /// The latest response's header block ended (its blank line arrived).
  bool headers_ended = false;
  /// The latest response's Content-Length (-1: none so far).
  std::int64_t content_length = -1;
  /// How the server broke HTTP in a way libcurl lets through (empty: it did not); the
  /// transfer is aborted when it is found.
  std::string violation;
  std::int64_t max_body = -1;
  bool too_large = false;
  /// When it fails with `fetch.timeout` (its timeout after its submission), and its
  /// neighbours in the session's deadline order.
  time_point deadline;
  std::chrono::nanoseconds timeout{0};
  transfer* earlier = nullptr;
  transfer* later = nullptr;
  /// The per-request option last set on `easy` (-1: not since the handle was set up).
  curl_off_t max_file_set = -1;
  /// The request URL, parsed once for every transfer of this handle that fetches the same URL
  /// (`url_parsed` is what it holds; empty: nothing usable). libcurl takes it read-only
  /// (`CURLOPT_CURLU`); given the URL as a string instead, it would parse it again for every
  /// transfer and rebuild a normalised copy on the I/O thread.
  CURLU* url = nullptr;
  std::string url_parsed;
  char errbuf[CURL_ERROR_SIZE] = {};

  explicit transfer(CURL* e) : easy(e) {}
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

  /// Ready for a new request: nothing of the previous one's outcome is left.
  void clear_outcome() {
    completed = false;
    too_large = false;
    headers_ended = false;
    content_length = -1;
    violation.clear();
    reply = fetch_reply{};
    header_lines.clear();
    errbuf[0] = 0;
  }

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

  /// libcurl passes every header line whole, the status line and the blank line that ends
  /// the block included.
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto bytes = size * n;
    if (bytes >= 5 && std::memcmp(data, "HTTP/", 5) == 0) { // a new response (a redirect, 1xx)
      t->header_lines.clear();
      t->headers_ended = false;
      t->content_length = -1;
      return bytes;
    }
    if (t->header_lines.capacity() < 512)
      t->header_lines.reserve(512); // one allocation for a typical header block
    t->header_lines.append(data, bytes);
    if (bytes > 0 && (data[0] == '\r' || data[0] == '\n') && trim_blanks({data, bytes}).empty()) {
      t->headers_ended = true;
      return bytes;
    }
    // Content-Length, whatever the case (a blank before the colon is not HTTP: never seen).
    if (bytes < 16 || (data[0] | 0x20) != 'c' || !ascii_iequals({data, 15}, "content-length:"))
      return bytes;
    return t->take_content_length(trim_blanks({data + 15, bytes - 15})) ? bytes : 0;
  }

  /// Checks one Content-Length header of the latest response: a number, or a list of equal
  /// numbers (RFC 9110, 8.6), equal to any Content-Length before it. libcurl takes the last
  /// of several and reads a number off the front of anything: a response that says two
  /// lengths, or no length, is not HTTP (`violation`). False if the transfer must stop.
  bool take_content_length(std::string_view value) {
    std::int64_t announced = -1;
    for (std::size_t begin = 0; begin <= value.size();) {
      auto end = std::min(value.find(',', begin), value.size());
      auto item = trim_blanks(value.substr(begin, end - begin));
      begin = end + 1;
      std::int64_t v = 0;
      auto [stop, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      if (ec == std::errc::result_out_of_range && max_body >= 0) {
        too_large = true;
        return false;
      }
      if (ec != std::errc{} || item.empty() || stop != item.data() + item.size()) {
        violation = "the response has an invalid Content-Length (" + quote(value) + ")";
        return false;
      }
      if (announced >= 0 && v != announced) {
        violation = "the response has conflicting Content-Lengths (" + quote(value) + ")";
        return false;
      }
      announced = v;
    }
    if (content_length >= 0 && announced != content_length) {
      violation = "the response has conflicting Content-Length headers (" +
                  std::to_string(content_length) + " and " + std::to_string(announced) + ")";
      return false;
    }
    content_length = announced;
    if (max_body >= 0 && announced > max_body) {
      too_large = true;
      return false; // refuse before the body starts
    }
    // Room for the announced body at once (at most max_body), instead of growing by copies.
    if (max_body >= 0 && announced > 0 && !head)
      reply.body.reserve(static_cast<std::size_t>(announced));
    return true;
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
  // The easy handles use the share handle: they go first.
  active_.clear();
  plain_.clear();
  spare_.clear();
  curl_slist_free_all(session_headers_);
  if (multi_)
    curl_multi_cleanup(multi_);
  if (share_)
    curl_share_cleanup(share_);
}

void fetch_session::run() {
  if (!ok())
    return;
  configure_multi();
  bool serve_more = true; // the intake may hold requests from before the thread ran
  while (!stopping_.load(std::memory_order_acquire)) {
    // The fetcher's handler runs here for each waiting request (`accept`), and `on_cancel` for
    // each cancel (`cancel`).
    if (intake_ && (rung_.exchange(false, std::memory_order_acq_rel) || serve_more))
      serve_more = intake_->serve(intake_budget);
    start_ready(clock::now());
    active_count_.store(active_.size(), std::memory_order_relaxed);
    waiting_count_.store(waiting_total_, std::memory_order_relaxed);
    drive_transfers();
    auto now = clock::now();
    expire_transfers(now);
    expire_waiting(now);
    if (serve_more || (!ready_.empty() && active_.size() < active_limit_))
      continue; // more requests to take in, or room freed: start more before waiting
    wait_for_work(poll_timeout_ms(now));
  }
  end_all(error{errc::stopped, "the fetcher stopped"});
}

void fetch_session::configure_multi() {
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, settings_.max_connections);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, settings_.max_connections);
  // The session hands libcurl at most max_per_host transfers per host; libcurl's own limit
  // covers redirects to another host.
  if (settings_.max_per_host > 0)
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, settings_.max_per_host);
}

void fetch_session::start_ready(time_point now) {
  while (!ready_.empty() && active_.size() < active_limit_) {
    auto& h = *ready_.front();
    ready_.pop_front();
    h.listed = false;
    if (!h.waiting.empty() && has_room(h)) {
      auto j = take_first(h);
      if (j.r.cancelled()) {
        j.r.fail(error{errc::cancelled, "cancelled by the host"});
      } else if (j.deadline <= now) {
        j.r.fail(timed_out_waiting(j));
      } else {
        start_transfer(std::move(j));
      }
      list_if_ready(h); // its next turn comes after the other hosts'
    }
    forget_if_idle(h);
  }
}

void fetch_session::drive_transfers() {
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
    finished_.push_back(t);
  }
  for (auto* t : finished_)
    release(*t);
  finished_.clear();
}

int fetch_session::poll_timeout_ms(time_point now) const {
  bool idle = active_.empty() && waiting_total_ == 0;
  long timeout_ms = idle ? 1000 : 100;
  auto next = first_deadline_ ? first_deadline_->deadline : time_point::max();
  if (!waiting_by_deadline_.empty())
    next = std::min(next, waiting_by_deadline_.begin()->first);
  if (next != time_point::max()) { // no later than the next deadline (rounded up: never early)
    auto left = std::chrono::ceil<std::chrono::milliseconds>(next - now);
    timeout_ms = std::clamp<long>(static_cast<long>(left.count()), 0, timeout_ms);
  }
  return static_cast<int>(timeout_ms);
}

void fetch_session::wait_for_work(int timeout_ms) {
  // `wake` interrupts the poll only while `asleep_` is set (a wake-up is a syscall on the
  // loop's side and one more on this one). It is set before the last look at `rung_`: a
  // wake-up either is seen here or finds it set and interrupts the poll.
  asleep_.store(true, std::memory_order_seq_cst);
  if (!rung_.load(std::memory_order_seq_cst) && !stopping_.load(std::memory_order_seq_cst))
    curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
  asleep_.store(false, std::memory_order_relaxed);
}

void fetch_session::end_all(const error& e) {
  for (auto* h : ready_)
    h->listed = false;
  ready_.clear();
  auto end_waiting = [&](host_queue& h) {
    for (auto& j : h.waiting)
      j.r.fail(e);
    h.waiting.clear();
  };
  end_waiting(any_host_);
  for (auto& entry : hosts_)
    end_waiting(entry.second);
  waiting_by_deadline_.clear();
  waiting_total_ = 0;
  for (auto& t : active_) {
    t->r.fail(e);
    curl_multi_remove_handle(multi_, t->easy);
  }
  active_.clear();
  hosts_.clear();
  any_host_.active = 0;
  first_deadline_ = last_deadline_ = nullptr;
}

fetch_session::time_point fetch_session::deadline_of(time_point submitted,
                                                     std::chrono::nanoseconds timeout) {
  // A timeout beyond the clock's range (a request may ask for years) means no deadline.
  return timeout < time_point::max() - submitted ? submitted + timeout : time_point::max();
}

fetch_session::host_queue& fetch_session::queue_for(const std::string& url) {
  if (settings_.max_per_host <= 0)
    return any_host_;
  auto key = host_key(url);
  auto [it, fresh] = hosts_.try_emplace(key);
  if (fresh)
    it->second.key = std::move(key);
  return it->second;
}

bool fetch_session::has_room(const host_queue& h) const noexcept {
  return settings_.max_per_host <= 0 || h.active < static_cast<std::size_t>(settings_.max_per_host);
}

void fetch_session::list_if_ready(host_queue& h) {
  if (!h.listed && !h.waiting.empty() && has_room(h)) {
    h.listed = true;
    ready_.push_back(&h);
  }
}

void fetch_session::forget_if_idle(host_queue& h) {
  if (&h == &any_host_ || h.listed || h.active > 0 || !h.waiting.empty())
    return;
  hosts_.erase(hosts_.find(h.key));
}

fetch_session::job fetch_session::take_first(host_queue& h) {
  auto first = h.waiting.begin();
  waiting_by_deadline_.erase(first->by_deadline);
  job j = std::move(*first);
  h.waiting.erase(first);
  --waiting_total_;
  return j;
}

void fetch_session::expire_waiting(time_point now) {
  while (!waiting_by_deadline_.empty() && waiting_by_deadline_.begin()->first <= now) {
    auto it = waiting_by_deadline_.begin()->second;
    waiting_by_deadline_.erase(waiting_by_deadline_.begin());
    auto& h = *it->host;
    job j = std::move(*it);
    h.waiting.erase(it);
    --waiting_total_;
    j.r.fail(timed_out_waiting(j));
    forget_if_idle(h);
  }
}

error fetch_session::timed_out_waiting(const job& j) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(j.timeout).count();
  return error{fetch_errc::timeout, printable(j.req.url) + ": no complete response within " +
                                        std::to_string(ms) +
                                        " ms (no connection was free for it in time)"};
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

void fetch_session::expire_transfers(time_point now) {
  while (first_deadline_ && first_deadline_->deadline <= now) {
    auto& t = *first_deadline_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout).count();
    t.r.fail(error{fetch_errc::timeout,
                   printable(t.req.url) + ": no complete response within " + std::to_string(ms) +
                       " ms (" + std::to_string(t.reply.body.size()) + " body bytes received)"});
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

fetch_session::pooled fetch_session::obtain_transfer(bool plain) {
  // A handle that served a plain GET keeps the session's options: a plain GET on it sets only
  // what differs per request. Any other handle is reset and configured from scratch.
  if (plain && !plain_.empty()) {
    auto t = std::move(plain_.back());
    plain_.pop_back();
    return {std::move(t), true};
  }
  if (!spare_.empty() || !plain_.empty()) {
    auto& from = spare_.empty() ? plain_ : spare_;
    auto t = std::move(from.back());
    from.pop_back();
    curl_easy_reset(t->easy);
    return {std::move(t), false};
  }
  if (CURL* fresh = curl_easy_init())
    return {std::make_unique<transfer>(fresh), false};
  return {nullptr, false};
}

void fetch_session::start_transfer(job j) {
  auto& q = j.req;
  bool get = q.method == "GET" || ascii_iequals(q.method, "get");
  bool plain = get && q.body.empty() && q.headers.empty();
  auto [t, configured] = obtain_transfer(plain);
  if (!t) {
    j.r.fail(error{errc::worker_failed, "libcurl could not create a transfer"});
    return;
  }
  t->r = std::move(j.r);
  t->req = std::move(q);
  t->id = t->r.id();
  t->host = j.host;
  ++j.host->active;
  t->plain = plain;
  t->clear_outcome();
  auto* e = t->easy;
  if (!configured) {
    configure(e);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    t->max_file_set = -1;
  }
  t->max_body = t->req.max_body >= 0 ? t->req.max_body : settings_.max_body;
  t->set_url(t->req.url, !configured);
  t->timeout = j.timeout;
  t->deadline = j.deadline;
  track_deadline(t.get());
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
    set_request_options(*t);
  }
  curl_multi_add_handle(multi_, e);
  t->slot = active_.size();
  active_.push_back(std::move(t));
}

void fetch_session::set_request_options(transfer& t) {
  auto* e = t.easy;
  auto method = t.req.method;
  for (auto& c : method)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  t.head = method == "HEAD";
  auto headers = settings_.headers;
  for (auto& [k, v] : t.req.headers)
    headers[k] = v;
  for (auto& [k, v] : headers)
    t.headers = curl_slist_append(t.headers, (k + ": " + v).c_str());
  if (t.headers)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
  if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!t.req.body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.req.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.req.body.data());
  }
}

void fetch_session::finish(transfer& t, CURLcode code) {
  if (code == CURLE_OK && !t.headers_ended)
    t.violation = "the connection closed in the middle of the response headers";
  if (code != CURLE_OK || !t.violation.empty()) {
    t.r.fail(failure_of(t, code));
    return;
  }
  t.completed = true;
  auto& url = t.req.url;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  // An HTTP status is three digits; libcurl takes more from a malformed status line (such as
  // "HTTP/23301").
  if (status < 100 || status > 999) {
    t.r.fail(error{fetch_errc::protocol, printable(url) + ": the status line is not HTTP (status " +
                                             std::to_string(status) + ")"});
    return;
  }
  if (t.req.raise_for_status && status >= 400) {
    t.r.fail(error{fetch_errc::http_status,
                   "HTTP " + std::to_string(status) + " from " + printable(url)});
    return;
  }
  char* effective = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
  curl_off_t connect = 0, first = 0, total = 0;
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(t.easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
  curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total);
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
}

error fetch_session::failure_of(transfer& t, CURLcode code) const {
  auto url = printable(t.req.url);
  if (!t.violation.empty())
    return error{fetch_errc::protocol, url + ": " + t.violation};
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED)
    return error{fetch_errc::too_large, "the body of " + url + " exceeds max_body (" +
                                            std::to_string(t.max_body) + " bytes)"};
  error_code kind = fetch_errc::protocol;
  switch (code) {
    case CURLE_URL_MALFORMAT:
      kind = fetch_errc::bad_url;
      break;
    case CURLE_UNSUPPORTED_PROTOCOL: {
      // A redirect to a scheme the session does not allow, or a reply that is not HTTP
      // (libcurl calls both an unsupported protocol): told apart by the URL it was fetching.
      char* effective = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
      if (effective && !scheme_allowed(effective))
        kind = fetch_errc::scheme_not_allowed;
      break;
    }
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
  auto why = printable(t.errbuf[0] ? t.errbuf : curl_easy_strerror(code));
  return error{kind, url + ": " + why};
}

bool fetch_session::scheme_allowed(std::string_view url) const {
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return false;
  auto scheme = url.substr(0, sep);
  return std::any_of(settings_.schemes.begin(), settings_.schemes.end(),
                     [&](const std::string& s) { return ascii_iequals(scheme, s); });
}

void fetch_session::release(transfer& t) {
  untrack_deadline(&t);
  auto slot = t.slot;
  auto owned = std::move(active_[slot]); // out of `active_`: the last one takes its slot
  if (slot + 1 != active_.size()) {
    active_[slot] = std::move(active_.back());
    active_[slot]->slot = slot;
  }
  active_.pop_back();
  curl_multi_remove_handle(multi_, owned->easy);
  auto& h = *owned->host;
  owned->host = nullptr;
  --h.active;
  list_if_ready(h);
  forget_if_idle(h);
  bool keeps_options = owned->plain && owned->completed;
  if (!keeps_options)
    forget_cookie_files(owned->easy);
  curl_slist_free_all(owned->headers);
  owned->headers = nullptr;
  owned->req = fetch_request{}; // a request body may be large: not kept in the pool
  (keeps_options ? plain_ : spare_).push_back(std::move(owned));
}

void fetch_session::accept(fetch_request req, responder<fetch_reply> r) {
  if (!ok()) {
    r.fail(error{errc::stopped, "the fetcher has no session"});
    return;
  }
  auto timeout = req.timeout.count() > 0 ? req.timeout : settings_.timeout;
  auto submitted = r.submitted();
  if (submitted == time_point{}) // not stamped by the runtime: from now on
    submitted = clock::now();
  auto deadline = deadline_of(submitted, timeout);
  auto& h = queue_for(req.url);
  job j{std::move(req), std::move(r), deadline, timeout, &h, {}};
  if (h.waiting.empty() && has_room(h) && active_.size() < active_limit_) {
    start_transfer(std::move(j)); // nothing before it: no need to wait in line
    return;
  }
  h.waiting.push_back(std::move(j));
  auto it = std::prev(h.waiting.end());
  it->by_deadline = waiting_by_deadline_.emplace_hint(waiting_by_deadline_.end(), deadline, it);
  ++waiting_total_;
  list_if_ready(h);
}

void fetch_session::cancel(std::uint64_t id) {
  // A linear search: cancels are rare, and active transfers are at most `active_limit_`.
  // Not found: still waiting (skipped when its turn comes) or already done.
  auto it = std::find_if(active_.begin(), active_.end(),
                         [id](const transfer_ptr& t) { return t->id == id; });
  if (it == active_.end())
    return;
  auto& t = **it;
  t.r.fail(error{errc::cancelled, "cancelled by the host"});
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
