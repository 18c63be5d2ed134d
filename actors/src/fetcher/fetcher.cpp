#include "loopbridge/actors/fetcher.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <curl/curl.h>

#include "fetcher/fetch_session.hpp"
#include "fetcher/http_text.hpp"
#include "loopbridge/text.hpp"
#include "open_file_limit.hpp"

namespace loopbridge::actors {

namespace {

const std::vector<std::string> known_schemes{"http", "https"};

fetch_settings settings_from(const loopbridge::params& p) {
  fetch_settings s;
  // `p` is resolved: every declared param is present, its default (from `fetch_settings`)
  // filled in where the topology gave none.
  s.max_connections = static_cast<long>(p.integer("max_connections"));
  s.max_per_host = static_cast<long>(p.integer("max_per_host"));
  s.timeout = p.duration("timeout");
  s.max_body = p.integer("max_body");
  s.schemes = p.string_list("schemes");
  s.redirects = static_cast<long>(p.integer("redirects"));
  s.verify_tls = p.boolean("verify_tls");
  s.ca_file = p.string("ca_file");
  s.user_agent = p.string("user_agent");
  if (auto* h = p.find("headers"); h && h->is_map())
    for (auto& [k, v] : h->as_map())
      s.headers[k] = v.is_string() ? v.as_string() : v.to_string();
  return s;
}

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

/// True if `url` is plainly valid and allowed: `scheme://host[:port][/...]` with a lower-case
/// scheme from `schemes`, a host name (a letter, then letters, digits, dots and dashes) or a
/// dotted-decimal IPv4 address, a port of 1..65535, and
/// only printable ASCII (no space, no backslash) after the host. Every URL it accepts, libcurl
/// parses as well; anything else (user info, IPv6 literals, escapes, odd characters) is left
/// to `check_url`'s full parse. Costs a scan instead of a libcurl URL parse on the loop thread.
bool plainly_valid(std::string_view url, const std::vector<std::string>& schemes) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return false;
  auto scheme = url.substr(0, sep);
  for (char c : scheme)
    if (!(c >= 'a' && c <= 'z'))
      return false;
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end())
    return false;
  std::size_t i = sep + 3;
  // A name starts with a letter: libcurl reads a host that starts with a digit as one of the
  // numeric IPv4 forms, of which only plain dotted decimal is taken here.
  if (i < url.size() && alpha(url[i])) {
    while (i < url.size() && (alpha(url[i]) || digit(url[i]) || url[i] == '.' || url[i] == '-'))
      ++i;
  } else { // or dotted-decimal IPv4, four parts of 0..255 without leading zeros
    for (int part = 0; part < 4; ++part) {
      if (part > 0 && (i >= url.size() || url[i++] != '.'))
        return false;
      std::size_t begin = i;
      unsigned n = 0;
      while (i < url.size() && digit(url[i]) && i - begin < 3)
        n = n * 10 + static_cast<unsigned>(url[i++] - '0');
      if (i == begin || n > 255 || (url[begin] == '0' && i - begin > 1))
        return false;
    }
    if (i < url.size() && (digit(url[i]) || url[i] == '.'))
      return false;
  }
  if (i < url.size() && url[i] == ':') {
    std::size_t port_begin = ++i;
    unsigned long port = 0;
    while (i < url.size() && digit(url[i]) && i - port_begin < 5)
      port = port * 10 + static_cast<unsigned long>(url[i++] - '0');
    if (i == port_begin || port == 0 || port > 65535)
      return false;
  }
  if (i < url.size() && url[i] != '/' && url[i] != '?' && url[i] != '#')
    return false;
  for (; i < url.size(); ++i)
    if (url[i] <= ' ' || url[i] > '~' || url[i] == '\\')
      return false;
  return true;
}

/// A libcurl URL handle, freed with it.
struct url_handle_free {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using url_handle = std::unique_ptr<CURLU, url_handle_free>;

/// A string libcurl allocated, freed with `curl_free`.
struct curl_text_free {
  void operator()(char* text) const noexcept { curl_free(text); }
};
using curl_text = std::unique_ptr<char, curl_text_free>;

/// Part `what` of the URL in `u`; null if it has none.
curl_text url_part(CURLU* u, CURLUPart what) {
  char* part = nullptr;
  auto rc = curl_url_get(u, what, &part, 0);
  curl_text owned{part};
  if (rc != CURLUE_OK)
    owned.reset();
  return owned;
}

/// Checks a request's URL before it costs a transfer: it must parse, and its scheme must be one
/// the fetcher allows. Returns an empty error when it may go ahead.
error check_url(const std::string& url, const std::vector<std::string>& schemes) {
  if (plainly_valid(url, schemes))
    return {};
  if (url.empty())
    return error{fetch_errc::bad_url, "the request has no url"};
  if (auto nul = url.find('\0'); nul != std::string::npos) // libcurl would read up to it only
    return error{fetch_errc::bad_request,
                 "the url " + quote(url) + " holds a NUL byte (at " + std::to_string(nul) + ")"};
  url_handle u{curl_url()};
  if (!u)
    return error{errc::worker_failed, "libcurl could not parse the url (out of memory)"};
  auto rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
  auto quoted = quote(url);
  if (rc != CURLUE_OK)
    return error{fetch_errc::bad_url, quoted + " is not a URL: " + curl_url_strerror(rc)};
  auto scheme = url_part(u.get(), CURLUPART_SCHEME);
  if (!scheme)
    return error{fetch_errc::bad_url, quoted + " has no scheme"};
  if (std::find(schemes.begin(), schemes.end(), std::string{scheme.get()}) == schemes.end()) {
    std::string allowed;
    for (auto& s : schemes)
      allowed += (allowed.empty() ? "" : ", ") + s;
    return error{fetch_errc::scheme_not_allowed, "scheme " + quote(scheme.get()) + " of " +
                                                     quote(url) +
                                                     " is not allowed (allowed: " + allowed + ")"};
  }
  if (auto host = url_part(u.get(), CURLUPART_HOST); !host || !*host)
    return error{fetch_errc::bad_url, quoted + " has no host"};
  return {};
}

bool valid_method(const std::string& m) {
  return !m.empty() && m.size() <= 32 && std::all_of(m.begin(), m.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
  });
}

/// A character of an HTTP token (RFC 9110, 5.6.2): what a header name is made of.
bool token_char(char c) {
  return alpha(c) || digit(c) || (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

/// What is wrong with the header `name: value`, or an empty string if nothing is. A name must
/// be an HTTP token; a value must not hold CR, LF or NUL, which would end it early and let
/// what follows reach the server as another header (or cut it short).
std::string header_problem(std::string_view name, std::string_view value) {
  if (name.empty())
    return "a header needs a name";
  if (!std::all_of(name.begin(), name.end(), token_char))
    return "the header name " + quote(name) +
           " is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)";
  if (value.find_first_of(std::string_view{"\r\n\0", 3}) != std::string_view::npos)
    return "the value of header " + std::string{name} + " holds CR, LF or NUL (" + quote(value) +
           ")";
  return {};
}

/// Checks what a request asks for besides its URL: its method and its headers. Returns an
/// empty error when it may go ahead.
error check_request(const fetch_request& req) {
  if (!valid_method(req.method))
    return error{fetch_errc::bad_request,
                 quote(req.method) + " is not an HTTP method (letters only)"};
  for (auto& [name, value] : req.headers)
    if (auto why = header_problem(name, value); !why.empty())
      return error{fetch_errc::bad_request, why};
  return {};
}

} // namespace

fetch_headers::fetch_headers(const fetch_headers& other) {
  if (other.state_.load(std::memory_order_acquire) == raw) {
    lines_ = other.lines_; // never written while raw: safe beside a concurrent first read
    state_.store(raw, std::memory_order_relaxed);
  } else {
    map_ = other.map();
  }
}

fetch_headers::fetch_headers(fetch_headers&& other) noexcept
    : lines_(std::move(other.lines_)),
      map_(std::move(other.map_)),
      state_(other.state_.load(std::memory_order_relaxed)) {
  other.state_.store(parsed, std::memory_order_relaxed);
  other.map_.clear();
}

fetch_headers& fetch_headers::operator=(const fetch_headers& other) {
  if (this != &other)
    *this = fetch_headers{other};
  return *this;
}

fetch_headers& fetch_headers::operator=(fetch_headers&& other) noexcept {
  if (this != &other) {
    lines_ = std::move(other.lines_);
    map_ = std::move(other.map_);
    state_.store(other.state_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    other.state_.store(parsed, std::memory_order_relaxed);
    other.map_.clear();
  }
  return *this;
}

fetch_headers& fetch_headers::operator=(map_type m) {
  map_ = std::move(m);
  lines_.clear();
  state_.store(parsed, std::memory_order_relaxed);
  return *this;
}

fetch_headers fetch_headers::from_lines(std::string lines) noexcept {
  fetch_headers h;
  h.lines_ = std::move(lines);
  h.state_.store(raw, std::memory_order_relaxed);
  return h;
}

const fetch_headers::map_type& fetch_headers::map() const {
  if (state_.load(std::memory_order_acquire) != parsed)
    parse();
  return map_;
}

fetch_headers::map_type& fetch_headers::map() {
  // The lines stay: readers that reach the headers through a non-const path (an inspector
  // behind a const_cast) may run beside a thread that copies them.
  if (state_.load(std::memory_order_acquire) != parsed)
    parse();
  return map_;
}

void fetch_headers::parse() const {
  for (;;) {
    auto now = state_.load(std::memory_order_acquire);
    if (now == parsed)
      return;
    if (now == parsing) { // another reader builds it
      std::this_thread::yield();
      continue;
    }
    if (state_.compare_exchange_weak(now, parsing, std::memory_order_acquire))
      break;
  }
  try {
    map_type m;
    std::string_view rest{lines_};
    while (!rest.empty()) {
      auto eol = rest.find('\n');
      auto line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
      auto colon = line.find(':');
      if (colon == std::string_view::npos)
        continue;
      std::string name{trim_blanks(line.substr(0, colon))};
      for (auto& c : name)
        c = ascii_lower(c);
      auto value = trim_blanks(line.substr(colon + 1));
      auto [it, fresh] = m.try_emplace(std::move(name), value);
      if (!fresh)
        it->second.append(", ").append(value);
    }
    map_ = std::move(m);
  } catch (...) {
    state_.store(raw, std::memory_order_release);
    throw;
  }
  state_.store(parsed, std::memory_order_release);
}

std::vector<param_decl> fetcher::params() {
  using d = param_decl;
  const fetch_settings defaults;
  return {
      d::integer("max_connections", defaults.max_connections,
                 "open connections at most (requests beyond wait)")
          .range(1, 1024),
      d::integer("max_per_host", defaults.max_per_host,
                 "requests running at once per host (the rest wait, other hosts go on); 0: no "
                 "separate limit, one host may take every connection")
          .range(0, 1024),
      d::duration("timeout", defaults.timeout,
                  "time a request that sets none may take, from its submission (waiting included)")
          .range(0.001, 86400),
      d::size("max_body", defaults.max_body, "largest response body accepted").at_least(0),
      d::string_list("schemes", defaults.schemes, "URL schemes allowed (http, https)"),
      d::integer("redirects", defaults.redirects, "redirects followed at most; 0: none")
          .range(0, 50),
      d::boolean("verify_tls", defaults.verify_tls, "verify the server's certificate and name"),
      d::string("ca_file", defaults.ca_file, "PEM file of the certificate authorities to trust"),
      d::string("user_agent", defaults.user_agent, "User-Agent header"),
      d::map("headers", "headers sent with every request"),
  };
}

std::vector<param_problem> fetcher::validate(const loopbridge::params& p) {
  std::vector<param_problem> problems;
  auto schemes = p.string_list("schemes");
  if (schemes.empty())
    problems.push_back({"schemes", "at least one scheme is needed", "http, https"});
  for (std::size_t i = 0; i < schemes.size(); ++i)
    if (std::find(known_schemes.begin(), known_schemes.end(), schemes[i]) == known_schemes.end())
      problems.push_back({"schemes[" + std::to_string(i) + "]",
                          "unknown scheme " + quote(schemes[i]), "one of: http, https"});
  if (auto* h = p.find("headers"); h && h->is_map())
    for (auto& [k, v] : h->as_map()) {
      if (!v.is_string())
        problems.push_back({"headers." + printable(k), "a header value must be a string", ""});
      else if (auto why = header_problem(k, v.as_string()); !why.empty())
        problems.push_back({"headers." + printable(k), why, ""});
    }
  if (auto ua = p.string("user_agent");
      ua.find_first_of(std::string_view{"\r\n\0", 3}) != std::string::npos)
    problems.push_back(
        {"user_agent", "the User-Agent holds CR, LF or NUL (" + quote(ua) + ")", ""});
  return problems;
}

fetcher_worker::fetcher_worker(worker_context& ctx)
    : session_(std::make_shared<fetch_session>(settings_from(ctx.params()))) {
  // A socket per connection, beside the process's other descriptors.
  ensure_open_file_limit(static_cast<std::size_t>(session_->settings().max_connections) + 64);
  // The session's handles exist once it is constructed (a failure throws, which fails the
  // start). Requests go straight to its I/O thread, which runs this worker's handlers.
  if (!session_->ok())
    throw std::runtime_error("libcurl could not create an HTTP session");
  session_->serve_from(ctx.serve_on_own_thread([weak = std::weak_ptr<fetch_session>(session_)] {
    if (auto s = weak.lock())
      s->wake();
  }));
  ctx.start_thread(
      "lb.fetch." + ctx.actor_name(), [session = session_] { session->run(); },
      [weak = std::weak_ptr<fetch_session>(session_)] {
        auto s = weak.lock();
        return s ? s->describe() : std::string{"session closed"};
      });
}

fetcher_worker::~fetcher_worker() {
  session_->stop();
}

void fetcher_worker::handle(fetch_request& req, responder<fetch_reply>& r) {
  auto e = check_request(req);
  if (e.code().empty())
    e = check_url(req.url, session_->settings().schemes);
  if (!e.code().empty()) {
    r.fail(std::move(e));
    return;
  }
  session_->accept(std::move(req), std::move(r));
}

void fetcher_worker::on_cancel(std::uint64_t request_id) {
  session_->cancel(request_id);
}

} // namespace loopbridge::actors
