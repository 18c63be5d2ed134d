// The fetch session's life (its handles, made and freed), its I/O thread's rounds (`run`),
// and the calls that reach that thread: `accept`, `cancel`, `wake`, `stop`.
#include "fetcher/fetch_session.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <mutex>

#include "fetcher/fetch_transfer.hpp"
#include "fetcher/http_text.hpp"

namespace loopbridge::actors {

namespace {

/// Requests the I/O thread takes from the intake per round before it drives its transfers.
constexpr std::size_t intake_budget = 256;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
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
