// Transfers: their easy handles' options, the pool they are taken from and returned to, and
// how a waiting request becomes one.
#include "fetcher/fetch_session.hpp"

#include <cctype>
#include <string>

#include "fetcher/fetch_transfer.hpp"
#include "fetcher/http_text.hpp"

namespace loopbridge::actors {

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

} // namespace loopbridge::actors
