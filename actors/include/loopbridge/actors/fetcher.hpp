#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// Error kinds of the fetcher (`fetch.*`): one per way a request can fail.
namespace fetch_errc {
inline constexpr error_code bad_url{"fetch", "bad_url"};
inline constexpr error_code scheme_not_allowed{"fetch", "scheme_not_allowed"};
inline constexpr error_code dns{"fetch", "dns"};
inline constexpr error_code connect_failed{"fetch", "connect_failed"};
inline constexpr error_code timeout{"fetch", "timeout"};
/// Content-Length or the bytes received exceed the limit (aborted as soon as known).
inline constexpr error_code too_large{"fetch", "too_large"};
inline constexpr error_code tls{"fetch", "tls"};
/// The server broke HTTP: a truncated body, a dropped connection, too many redirects...
inline constexpr error_code protocol{"fetch", "protocol"};
/// A status of 400 or more, when the request asked for `raise_for_status`.
inline constexpr error_code http_status{"fetch", "http_status"};
} // namespace fetch_errc

/// An HTTP response. Status codes are data: a 404 is a reply, not an error (unless the request
/// set `raise_for_status`).
struct fetch_reply {
  std::int64_t status = 0;
  /// Response headers, names in lower case; repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
  std::vector<std::uint8_t> body;
  /// The URL finally fetched (after redirects).
  std::string effective_url;
  std::chrono::nanoseconds connect_time{0};    ///< until the connection was made
  std::chrono::nanoseconds first_byte_time{0}; ///< until the first response byte
  std::chrono::nanoseconds total_time{0};

  template <class Inspector>
  friend auto inspect(Inspector& f, fetch_reply& x) {
    return f(caf::meta::type_name("fetch_reply"), field("status"), x.status, field("headers"),
             x.headers, field("body"), x.body, field("effective_url"), x.effective_url,
             field("connect_time"), x.connect_time, field("first_byte_time"), x.first_byte_time,
             field("total_time"), x.total_time);
  }
};

/// One HTTP request over the fetcher's session.
struct fetch_request {
  using reply_type = fetch_reply;
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::vector<std::uint8_t> body;
  /// Whole-transfer timeout (zero: the fetcher's `timeout` param).
  std::chrono::nanoseconds timeout{0};
  /// Largest body accepted (-1: the fetcher's `max_body` param).
  std::int64_t max_body = -1;
  /// Fail with `fetch.http_status` on a status of 400 or more.
  bool raise_for_status = false;

  /// A GET of `url` with the fetcher's defaults.
  static fetch_request get(std::string url) {
    fetch_request r;
    r.url = std::move(url);
    return r;
  }

  template <class Inspector>
  friend auto inspect(Inspector& f, fetch_request& x) {
    return f(caf::meta::type_name("fetch_request"), field("method"), x.method, field("url"), x.url,
             field("headers"), x.headers, field("body"), x.body, field("timeout"), x.timeout,
             field("max_body"), x.max_body, field("raise_for_status"), x.raise_for_status);
  }
};

class fetch_session;
class fetcher_worker;

/// The `fetcher` kind: one actor holds one HTTP session — a libcurl multi handle plus a share
/// handle (keep-alive connections, DNS cache, cookies confined to the session) — created when it
/// starts (`ready` only once it exists; earlier requests wait) and closed when it stops. One I/O
/// thread drives all transfers (`curl_multi_poll`); requests reach it through a queue and a
/// wake-up, replies return as messages, so thousands of requests are in flight without a thread
/// each. `max_connections` caps sockets, not requests.
struct fetcher {
  static constexpr const char* name = "fetcher";
  using requests = request_list<fetch_request>;
  using worker = fetcher_worker;
  static std::vector<param_decl> params();
  static std::vector<param_problem> validate(const loopbridge::params& p);
};

class fetcher_worker final : public loopbridge::worker {
public:
  explicit fetcher_worker(worker_context& ctx);
  ~fetcher_worker() override;
  void handle(fetch_request& req, responder<fetch_reply>& r);
  void on_cancel(std::uint64_t request_id) override;

private:
  std::shared_ptr<fetch_session> session_;
};

} // namespace loopbridge::actors
