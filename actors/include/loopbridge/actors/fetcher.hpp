#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/bytes.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// Error kinds of the fetcher (`fetch.*`): one per way a request can fail.
namespace fetch_errc {
/// The request is malformed apart from its URL's syntax: a method that is not one, a header
/// name that is not an HTTP token, CR, LF or NUL in a header value or the method (which
/// would let a header or request of the caller's making reach the server), a NUL in the URL
/// (libcurl would fetch what comes before it). Refused before any connection.
inline constexpr error_code bad_request{"fetch", "bad_request"};
inline constexpr error_code bad_url{"fetch", "bad_url"};
inline constexpr error_code scheme_not_allowed{"fetch", "scheme_not_allowed"};
inline constexpr error_code dns{"fetch", "dns"};
inline constexpr error_code connect_failed{"fetch", "connect_failed"};
/// No complete response by the request's deadline (its timeout after its submission).
inline constexpr error_code timeout{"fetch", "timeout"};
/// Content-Length or the bytes received exceed the limit (aborted as soon as known), or the
/// reply does not fit in memory.
inline constexpr error_code too_large{"fetch", "too_large"};
inline constexpr error_code tls{"fetch", "tls"};
/// The server broke HTTP: a truncated body, a connection closed before the response headers
/// ended, a reply that is not HTTP, conflicting or invalid Content-Length headers, a dropped
/// connection, too many redirects...
inline constexpr error_code protocol{"fetch", "protocol"};
/// A status of 400 or more, when the request asked for `raise_for_status`.
inline constexpr error_code http_status{"fetch", "http_status"};
} // namespace fetch_errc

/// The headers of an HTTP response: names in lower case, repeated headers joined with ", ".
/// Reads like the `std::map<std::string, std::string>` it converts to (`at`, `find`, `count`,
/// `operator[]`, iteration in name order). The fetcher keeps the header lines as received; the
/// map is built from them the first time it is read, on the reading thread, so a reply whose
/// headers nobody reads costs no map.
///
/// Threads: like a `std::map`. Any number of threads may read one object at the same time (the
/// first read builds the map, concurrent readers wait for it); a write (a non-const member) needs
/// exclusive access.
class fetch_headers {
public:
  using map_type = std::map<std::string, std::string>;
  using key_type = map_type::key_type;
  using mapped_type = map_type::mapped_type;
  using value_type = map_type::value_type;
  using size_type = map_type::size_type;
  using iterator = map_type::iterator;
  using const_iterator = map_type::const_iterator;

  fetch_headers() noexcept = default;
  fetch_headers(map_type m) : map_(std::move(m)), state_(parsed) {}
  fetch_headers(std::initializer_list<value_type> l) : map_(l), state_(parsed) {}
  fetch_headers(const fetch_headers& other);
  fetch_headers(fetch_headers&& other) noexcept;
  fetch_headers& operator=(const fetch_headers& other);
  fetch_headers& operator=(fetch_headers&& other) noexcept;
  fetch_headers& operator=(map_type m);
  ~fetch_headers() = default;

  /// Headers from the header lines of one response as received (`Name: value`, each ending in
  /// CRLF or LF; the status line and other lines without a colon are skipped).
  static fetch_headers from_lines(std::string lines) noexcept;

  /// The headers as a map (built on the first read).
  const map_type& map() const;
  map_type& map();
  operator const map_type&() const { return map(); }

  const std::string& at(const std::string& name) const { return map().at(name); }
  std::string& at(const std::string& name) { return map().at(name); }
  std::string& operator[](const std::string& name) { return map()[name]; }
  const_iterator find(const std::string& name) const { return map().find(name); }
  iterator find(const std::string& name) { return map().find(name); }
  size_type count(const std::string& name) const { return map().count(name); }
  bool contains(const std::string& name) const { return map().count(name) != 0; }
  const_iterator begin() const { return map().begin(); }
  const_iterator end() const { return map().end(); }
  const_iterator cbegin() const { return map().cbegin(); }
  const_iterator cend() const { return map().cend(); }
  iterator begin() { return map().begin(); }
  iterator end() { return map().end(); }
  size_type size() const { return map().size(); }
  bool empty() const { return map().empty(); }
  void clear() { map().clear(); }
  size_type erase(const std::string& name) { return map().erase(name); }
  template <class... Ts>
  std::pair<iterator, bool> emplace(Ts&&... xs) {
    return map().emplace(std::forward<Ts>(xs)...);
  }
  std::pair<iterator, bool> insert(value_type x) { return map().insert(std::move(x)); }

  friend bool operator==(const fetch_headers& a, const fetch_headers& b) {
    return a.map() == b.map();
  }
  friend bool operator!=(const fetch_headers& a, const fetch_headers& b) { return !(a == b); }
  friend bool operator==(const fetch_headers& a, const map_type& b) { return a.map() == b; }
  friend bool operator!=(const fetch_headers& a, const map_type& b) { return !(a == b); }
  friend bool operator==(const map_type& a, const fetch_headers& b) { return b == a; }
  friend bool operator!=(const map_type& a, const fetch_headers& b) { return !(b == a); }

private:
  enum : std::uint8_t { raw = 0, parsing = 1, parsed = 2 };
  void parse() const;

  std::string lines_;    ///< as received; only assignments write it, never a read
  mutable map_type map_; ///< valid once `state_` is `parsed`
  mutable std::atomic<std::uint8_t> state_{parsed};
};

/// An HTTP response. Status codes are data: a 404 is a reply, not an error (unless the request
/// set `raise_for_status`).
struct fetch_reply {
  std::int64_t status = 0;
  /// Response headers, names in lower case; repeated headers joined with ", ".
  fetch_headers headers;
  bytes body;
  /// The URL finally fetched (after redirects).
  std::string effective_url;
  std::chrono::nanoseconds connect_time{0};    ///< until the connection was made
  std::chrono::nanoseconds first_byte_time{0}; ///< until the first response byte
  std::chrono::nanoseconds total_time{0};

  template <class Inspector>
  friend auto inspect(Inspector& f, fetch_reply& x) {
    return f(caf::meta::type_name("fetch_reply"), field("status"), x.status, field("headers"),
             x.headers.map(), field("body"), x.body, field("effective_url"), x.effective_url,
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
  bytes body;
  /// The time the whole request may take, counted from its submission: waiting for a
  /// connection included (zero: the fetcher's `timeout` param). Past it: `fetch.timeout`.
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
/// thread drives all transfers (`curl_multi_poll`); requests reach it straight from the event
/// loop (the kind runs on its own thread: `execution::own_thread`), replies return as
/// messages, so thousands of requests are in flight without a thread each. `max_connections`
/// caps sockets, not requests; `max_per_host` caps the requests that run at once to one host
/// (`host:port`), the rest of that host's waiting while other hosts' requests go on — so a
/// host that never answers holds at most that many connections. A request's `timeout` is its
/// deadline from submission, whether it waits for a connection or not.
///
/// Requests are checked before they cost a connection: a method or header that could smuggle
/// another header or request to the server (CR, LF, NUL) is `fetch.bad_request`, as is a NUL in
/// the URL. Error messages quote input cut to about 120 bytes, control characters escaped.
///
/// Proxies come from the environment, as libcurl reads them (`http_proxy`, `https_proxy` or
/// `HTTPS_PROXY`, `all_proxy` or `ALL_PROXY`, and `no_proxy`): if none names a proxy for an
/// allowed scheme when the session starts, the session uses none and does not look again for
/// every transfer; otherwise libcurl reads them for every transfer.
struct fetcher {
  static constexpr const char* name = "fetcher";
  using requests = request_list<fetch_request>;
  using worker = fetcher_worker;
  static std::vector<param_decl> params();
  static std::vector<param_problem> validate(const loopbridge::params& p);
  /// Requests go straight to the session's I/O thread, which runs the handlers.
  static loopbridge::execution execution(const loopbridge::params&) {
    return loopbridge::execution::own_thread;
  }
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
