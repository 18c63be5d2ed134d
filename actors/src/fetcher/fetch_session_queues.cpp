// Waiting requests: the queue of each host (or the session's one queue), and the turns hosts
// with room take to start them.
#include "fetcher/fetch_session.hpp"

#include <string>
#include <string_view>

#include "fetcher/http_text.hpp"

namespace loopbridge::actors {

namespace {

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

} // namespace

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

} // namespace loopbridge::actors
