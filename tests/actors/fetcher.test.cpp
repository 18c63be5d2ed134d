// The fetcher against the embedded origin over real loopback HTTP: success, keep-alive reuse
// (counted by the server), every error kind, cancellation, shutdown with transfers in flight,
// thousands outstanding on a few connections. Also the origin itself: faults, path refusal.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/completion_queue.hpp"
#include "support/nginx_fixture.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

lbtest::temp_dir scratch_dir() {
  return lbtest::temp_dir{"loopbridge-fetch"};
}

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::uint8_t>((i * 31 + seed) & 0xff);
  return v;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out{path, std::ios::binary};
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

/// A directory with a 1 KiB and a 1 MiB file, served by an origin; a fetcher next to it.
struct site {
  lbtest::temp_dir dir = scratch_dir(); // removed after `rt` (declared later) has stopped
  std::string root = dir.path();
  std::vector<std::uint8_t> small = pattern(1024, 1);
  std::vector<std::uint8_t> large = pattern(1 << 20, 2);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  actor_handle<http_origin> origin;
  actor_handle<fetcher> fetch;
  std::string url;

  explicit site(value fetcher_params = value::map{}, value origin_extra = value::map{}) {
    write_file(root + "/small.bin", small);
    write_file(root + "/large.bin", large);
    value::map op{{"root", root}};
    for (auto& [k, v] : origin_extra.as_map())
      op[k] = v;
    REQUIRE(rt.spawn("origin", "http_origin", value{op}).ok());
    REQUIRE(rt.spawn("fetch", "fetcher", std::move(fetcher_params)).ok());
    origin = rt.actor<http_origin>("origin").value();
    fetch = rt.actor<fetcher>("fetch").value();
    auto info = origin.call(origin_info_request{}, 10s);
    REQUIRE(info.ok());
    url = info->url;
  }

  result<fetch_reply> get(const std::string& path, std::chrono::nanoseconds timeout = 0ns) {
    fetch_request q;
    q.url = path.find("://") == std::string::npos ? url + path : path;
    q.timeout = timeout;
    return fetch.call(std::move(q), 30s);
  }

  void faults(std::vector<origin_fault> fs) {
    REQUIRE(origin.call(set_faults_request{std::move(fs), true}, 10s).ok());
  }

  origin_info info() { return origin.call(origin_info_request{}, 10s).value(); }
};

origin_fault fault_on(std::string path) {
  origin_fault f;
  f.path = std::move(path);
  return f;
}

std::string trim_copy(const std::string& v) {
  auto b = v.find_first_not_of(" \t\r\n");
  auto e = v.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string{} : v.substr(b, e - b + 1);
}

/// A loopback port nothing listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Sends `raw` to 127.0.0.1:port and returns the first line of the answer.
std::string raw_status_line(int port, const std::string& raw) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::write(fd, raw.data(), raw.size());
  char buf[256] = {};
  auto n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  std::string s{buf, n > 0 ? static_cast<std::size_t>(n) : 0};
  return s.substr(0, s.find("\r\n"));
}

} // namespace

TEST_CASE("the fetcher gets files from the origin over one keep-alive session", "[fetcher]") {
  site s{value{{"max_connections", 4}}};
  auto r = s.get("/small.bin");
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == s.small);
  CHECK(r->headers.at("content-length") == "1024");
  CHECK(r->headers.at("content-type") == "application/octet-stream");
  CHECK(r->effective_url == s.url + "/small.bin");
  CHECK(r->total_time > 0ns);
  auto big = s.get("/large.bin");
  REQUIRE(big.ok());
  CHECK(big->body == s.large);
  // 200 more requests, 32 at a time: the server sees at most max_connections connections.
  for (int round = 0; round < 200 / 32 + 1; ++round) {
    std::vector<future<fetch_reply>> fs;
    for (int i = 0; i < 32; ++i)
      fs.push_back(s.fetch.submit(fetch_request::get(s.url + "/small.bin")));
    for (auto& f : fs) {
      auto x = f.get();
      REQUIRE(x.ok());
      CHECK(x->body == s.small);
    }
  }
  auto info = s.info();
  CHECK(info.requests >= 200);
  CHECK(info.connections <= 4);
}

TEST_CASE("reply headers read like a map, built on first read, from the final response only",
          "[fetcher]") {
  site s{value{{"redirects", 3}}};
  auto moved = fault_on("/moved");
  moved.status = 302;
  moved.location = "/small.bin";
  s.faults({moved});
  auto r = s.get("/moved");
  REQUIRE(r.ok());
  CHECK(r->headers.count("location") == 0); // the redirect's headers were dropped
  // Copies taken before the first read, then read from several threads at once.
  std::vector<fetch_reply> copies(4, *r);
  std::vector<std::thread> readers;
  std::atomic<int> agree{0};
  for (auto& c : copies)
    readers.emplace_back([&c, &agree] {
      if (c.headers.at("content-length") == "1024" && c.headers.count("content-type") == 1)
        ++agree;
    });
  for (auto& t : readers)
    t.join();
  CHECK(agree == 4);
  const std::map<std::string, std::string>& as_map = r->headers;
  CHECK(as_map == copies[0].headers.map());
  for (auto& [name, v] : r->headers) {
    CHECK(!name.empty());
    CHECK(name.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ \t") == std::string::npos);
    CHECK(v == trim_copy(v));
  }
  // A header repeated in one response is joined with ", "; writes work as on a map.
  auto h = fetch_headers::from_lines("HTTP/1.1 200 OK\r\nVary: a\r\nX-One:  1 \r\nvary: b\r\n\r\n");
  CHECK(h.at("vary") == "a, b");
  CHECK(h.at("x-one") == "1");
  CHECK(h.size() == 2);
  h["x-two"] = "2";
  fetch_headers moved_to{std::move(h)};
  CHECK(moved_to.size() == 3);
  CHECK(moved_to == fetch_headers::map_type{{"vary", "a, b"}, {"x-one", "1"}, {"x-two", "2"}});
  CHECK(fetch_headers::map_type{{"vary", "a, b"}, {"x-one", "1"}, {"x-two", "2"}} == moved_to);
}

TEST_CASE("URLs the quick check accepts and the ones it leaves to libcurl's parse agree",
          "[fetcher][errors]") {
  site s{value{{"schemes", value::list{"http"}}}};
  auto port = s.url.substr(s.url.rfind(':') + 1);
  CHECK(s.get("http://127.0.0.1:" + port + "/small.bin").ok());
  CHECK(s.get("http://localhost:" + port + "/small.bin?x=1#frag").ok());
  CHECK(s.get("HTTP://127.0.0.1:" + port + "/small.bin").ok()); // the full parse
  CHECK(s.get("http://127.0.0.1:99999/x").is(fetch_errc::bad_url));
  CHECK(s.get("http://127.0.0.1:x/").is(fetch_errc::bad_url));
  CHECK(s.get("http://127.0.0.1:" + port + "/a b").is(fetch_errc::bad_url));
  CHECK(s.get("http://a b/").is(fetch_errc::bad_url));
  CHECK(s.get("Ftp://127.0.0.1/x").is(fetch_errc::scheme_not_allowed));
}

namespace {
/// Sets an environment variable for its lifetime (only while no runtime thread may read it).
struct scoped_env {
  std::string name;
  scoped_env(std::string n, const std::string& value) : name(std::move(n)) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(name.c_str()); }
};
} // namespace

TEST_CASE("a proxy named in the environment when the session starts is used", "[fetcher]") {
  // The origin stands in for the proxy: a request for a host that does not exist reaches it
  // (and is answered with some status) only if the fetcher went through the proxy; without
  // the variable it fails at the name lookup.
  for (auto variable : {"http_proxy", "all_proxy"}) {
    INFO(variable);
    site s; // its fetcher's session starts without the variable: it uses no proxy
    REQUIRE(s.get("/small.bin").ok()); // its session exists before the variable is set
    // Seen by the next fetcher's session when it starts (libcurl reads it per transfer).
    scoped_env proxy{variable, "http://127.0.0.1:" + std::to_string(s.info().port)};
    REQUIRE(s.rt.spawn("proxied", "fetcher", value::map{}).ok());
    auto proxied = s.rt.actor<fetcher>("proxied").value();
    auto r = proxied.call(fetch_request::get("http://proxied.invalid/small.bin"), 10s);
    INFO((r ? "status " + std::to_string(r->status) : r.error().message()));
    REQUIRE(r.ok()); // the origin answered for a host that does not exist
    CHECK(s.get("http://proxied.invalid/small.bin", 10s).is(fetch_errc::dns));
  }
}

TEST_CASE("status codes are data, raise_for_status makes them errors", "[fetcher]") {
  site s;
  auto missing = s.get("/nope.bin");
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  auto q = fetch_request::get(s.url + "/nope.bin");
  q.raise_for_status = true;
  auto raised = s.fetch.call(q, 10s);
  REQUIRE(raised.is(fetch_errc::http_status));
  CHECK(raised.error().message() == "HTTP 404 from " + s.url + "/nope.bin");
  s.faults({[] {
    auto f = fault_on("/small.bin");
    f.status = 503;
    return f;
  }()});
  CHECK(s.get("/small.bin")->status == 503);
  CHECK(s.get("/large.bin")->status == 200); // other paths are untouched
}

TEST_CASE("malformed URLs and schemes the fetcher does not allow never reach the network",
          "[fetcher][errors]") {
  site s{value{{"schemes", value::list{"http"}}}};
  CHECK(s.get("not a url").is(fetch_errc::bad_url));
  CHECK(s.get("http://").is(fetch_errc::bad_url));
  auto ftp = s.get("ftp://127.0.0.1/x");
  REQUIRE(ftp.is(fetch_errc::scheme_not_allowed));
  CHECK(ftp.error().message() ==
        "scheme 'ftp' of ftp://127.0.0.1/x is not allowed (allowed: http)");
  CHECK(s.get("https://127.0.0.1/x").is(fetch_errc::scheme_not_allowed));
  auto bad_method = fetch_request::get(s.url + "/small.bin");
  bad_method.method = "GE T";
  CHECK(s.fetch.call(bad_method, 10s).is(fetch_errc::bad_url));
  CHECK(s.info().requests == 0);
}

TEST_CASE("network failures map to their own error kinds", "[fetcher][errors]") {
  site s;
  auto refused = s.get("http://127.0.0.1:" + std::to_string(closed_port()) + "/x");
  CHECK(refused.is(fetch_errc::connect_failed));
  auto dns = s.get("http://no-such-host.invalid/x", 10s);
  CHECK(dns.is(fetch_errc::dns));

  auto slow = fault_on("/slow/*");
  slow.delay = 5s;
  auto cut = fault_on("/cut/*");
  cut.truncate = 1000;
  auto drop = fault_on("/drop/*");
  drop.drop = true;
  s.faults({slow, cut, drop});
  for (auto dir : {"/slow", "/cut", "/drop"}) {
    REQUIRE(::mkdir((s.root + dir).c_str(), 0755) == 0);
    write_file(s.root + dir + "/large.bin", s.large);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto to = s.get("/slow/large.bin", 200ms);
  CHECK(to.is(fetch_errc::timeout));
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);
  CHECK(s.get("/cut/large.bin").is(fetch_errc::protocol));
  CHECK(s.get("/drop/large.bin").is(fetch_errc::protocol));
  // The session survives all of it.
  CHECK(s.get("/small.bin")->body == s.small);
}

TEST_CASE("bodies over max_body fail with too_large without downloading the rest",
          "[fetcher][errors]") {
  site s{value{{"max_body", 4096}}};
  auto big = s.get("/large.bin");
  REQUIRE(big.is(fetch_errc::too_large));
  CHECK(big.error().message().find("max_body (4096 bytes)") != std::string::npos);
  // A per-request limit overrides the fetcher's; a slow body is cut as soon as it is known to
  // be too large, not after 1 MiB at 64 KiB/s (16 s).
  auto trickle = fault_on("/large.bin");
  trickle.trickle = 64 * 1024;
  s.faults({trickle});
  auto q = fetch_request::get(s.url + "/large.bin");
  q.max_body = 1000;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(s.fetch.call(q, 30s).is(fetch_errc::too_large));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(s.get("/small.bin").ok());
}

TEST_CASE("redirects are followed within limits and schemes", "[fetcher][errors]") {
  site s{value{{"redirects", 3}}};
  auto to_small = fault_on("/moved");
  to_small.status = 302;
  to_small.location = "/small.bin";
  auto to_ftp = fault_on("/to-ftp");
  to_ftp.status = 301;
  to_ftp.location = "ftp://127.0.0.1/x";
  auto loop = fault_on("/loop");
  loop.status = 302;
  loop.location = "/loop";
  s.faults({to_small, to_ftp, loop});
  auto moved = s.get("/moved");
  REQUIRE(moved.ok());
  CHECK(moved->status == 200);
  CHECK(moved->body == s.small);
  CHECK(moved->effective_url == s.url + "/small.bin");
  CHECK(s.get("/to-ftp").is(fetch_errc::scheme_not_allowed));
  CHECK(s.get("/loop").is(fetch_errc::protocol));
}

TEST_CASE("a reused handle fetches each request's own URL, redirected or not", "[fetcher]") {
  // One connection, one request at a time: every request runs on the same transfer, which keeps
  // its parsed URL for the next request to the same URL and parses a new one otherwise; a
  // request with headers of its own resets the handle.
  site s{value{{"max_connections", 1}}};
  auto moved = fault_on("/moved");
  moved.status = 302;
  moved.location = "/small.bin";
  s.faults({moved});
  struct step {
    std::string path;
    bool own_header;
    std::string lands_on;
  };
  std::vector<step> steps{{"/small.bin", false, "/small.bin"}, {"/large.bin", false, "/large.bin"},
                          {"/moved", false, "/small.bin"},     {"/moved", false, "/small.bin"},
                          {"/large.bin", false, "/large.bin"}, {"/large.bin", true, "/large.bin"},
                          {"/large.bin", false, "/large.bin"}, {"/small.bin", false, "/small.bin"},
                          {"/moved", true, "/small.bin"},      {"/large.bin", false, "/large.bin"}};
  for (auto& st : steps) {
    INFO("step " << (&st - steps.data()) << ": " << st.path
                 << (st.own_header ? " with a header of its own" : ""));
    fetch_request q = fetch_request::get(s.url + st.path);
    if (st.own_header)
      q.headers["X-Step"] = "1";
    auto r = s.fetch.call(std::move(q), 30s);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->effective_url == s.url + st.lands_on);
    CHECK(r->body == (st.lands_on == "/small.bin" ? s.small : s.large));
  }
  CHECK(s.info().connections == 1);
}

TEST_CASE("https: an unknown certificate is refused, trusted with its CA file", "[fetcher][tls]") {
  auto scratch = scratch_dir();
  auto dir = scratch.path();
  auto cert = dir + "/cert.pem", key = dir + "/key.pem";
  auto rc = std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                         "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                         key + " -out " + cert + " >/dev/null 2>&1")
                            .c_str());
  REQUIRE(rc == 0);
  site s{value::map{}, value{{"tls_cert", cert}, {"tls_key", key}}};
  REQUIRE(s.url.rfind("https://", 0) == 0);
  auto refused = s.get("/small.bin");
  CHECK(refused.is(fetch_errc::tls));
  REQUIRE(s.rt.spawn("trusting", "fetcher", {{"ca_file", cert}}).ok());
  auto trusting = s.rt.actor<fetcher>("trusting").value();
  auto ok = trusting.call(fetch_request::get(s.url + "/small.bin"), 30s);
  REQUIRE(ok.ok());
  CHECK(ok->body == s.small);
}

TEST_CASE("cancelling a transfer mid-body frees it, the session goes on", "[fetcher][cancel]") {
  site s;
  auto trickle = fault_on("/large.bin");
  trickle.trickle = 32 * 1024; // 32 s for the whole file
  s.faults({trickle});
  auto f = s.fetch.submit(fetch_request::get(s.url + "/large.bin"));
  REQUIRE(lbtest::eventually([&] { return s.info().requests >= 1; }));
  auto t0 = std::chrono::steady_clock::now();
  f.cancel();
  REQUIRE(f.wait_for(5s));
  CHECK(f.get().is(errc::cancelled));
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(s.get("/small.bin")->body == s.small);
  // The fetcher's counters saw the cancel.
  bool found = false;
  for (auto& a : s.rt.metrics())
    if (a.name == "fetch") {
      found = true;
      CHECK(a.cancelled == 1);
    }
  CHECK(found);
}

TEST_CASE("timeouts end transfers in deadline order, whatever order they started in",
          "[fetcher][errors]") {
  site s{value{{"timeout", 400ms}}};
  auto slow = fault_on("/slow/*");
  slow.delay = 10s;
  s.faults({slow});
  REQUIRE(::mkdir((s.root + "/slow").c_str(), 0755) == 0);
  write_file(s.root + "/slow/small.bin", s.small);
  auto t0 = std::chrono::steady_clock::now();
  auto request = [&](std::chrono::milliseconds timeout) {
    auto q = fetch_request::get(s.url + "/slow/small.bin");
    q.timeout = timeout;
    return s.fetch.submit(std::move(q), 30s);
  };
  auto late = request(3000ms);
  auto session_default = request(0ms); // the session's 400 ms
  auto early = request(150ms);
  completion_queue done;
  REQUIRE(done.watch(late).ok());
  REQUIRE(done.watch(session_default).ok());
  REQUIRE(done.watch(early).ok());
  std::vector<std::size_t> order;
  for (int i = 0; i < 3; ++i) {
    auto token = done.pop(10s);
    REQUIRE(token.ok());
    order.push_back(*token);
  }
  CHECK(order == std::vector<std::size_t>{2, 1, 0});
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 3000ms);
  CHECK(took < 6s);
  for (auto* f : {&late, &session_default, &early}) {
    auto r = f->get();
    CHECK(r.is(fetch_errc::timeout));
    CHECK_THAT(r.error().message(), Catch::Contains("no complete response within"));
  }
  CHECK(s.get("/small.bin")->body == s.small); // the session goes on
  // A timeout too long for the clock is no deadline (not one in the past).
  auto q = fetch_request::get(s.url + "/small.bin");
  q.timeout = std::chrono::nanoseconds::max();
  CHECK(s.fetch.call(std::move(q), 10s)->body == s.small);
}

TEST_CASE("a request's deadline aborts its transfer", "[fetcher][cancel]") {
  site s;
  auto slow = fault_on("/small.bin");
  slow.delay = 10s;
  s.faults({slow});
  auto f = s.fetch.submit(fetch_request::get(s.url + "/small.bin"), 300ms);
  REQUIRE(f.wait_for(5s));
  CHECK(f.get().is(errc::timeout));
}

TEST_CASE("5000 outstanding requests over 16 connections all complete", "[fetcher][load]") {
  site s{value{{"max_connections", 16}}};
  std::vector<future<fetch_reply>> fs;
  fs.reserve(5000);
  for (int i = 0; i < 5000; ++i)
    fs.push_back(s.fetch.submit(fetch_request::get(s.url + "/small.bin")));
  int ok = 0;
  for (auto& f : fs) {
    REQUIRE(f.wait_for(60s));
    auto r = f.get();
    if (r.ok() && r->status == 200 && r->body == s.small)
      ++ok;
  }
  CHECK(ok == 5000);
  auto info = s.info();
  CHECK(info.requests == 5000);
  CHECK(info.connections <= 16);
}

TEST_CASE("stopping with transfers in flight ends them within the deadline and says so",
          "[fetcher][shutdown]") {
  site s;
  auto slow = fault_on("/small.bin");
  slow.delay = 60s;
  s.faults({slow});
  std::vector<future<fetch_reply>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(s.fetch.submit(fetch_request::get(s.url + "/small.bin")));
  REQUIRE(lbtest::eventually([&] { return s.info().requests >= 1; }));
  auto t0 = std::chrono::steady_clock::now();
  auto report = s.rt.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 8s);
  CHECK(report.stuck.empty());
  CHECK(report.cancelled() >= 1);
  for (auto& f : fs) {
    REQUIRE(f.wait_for(1s));
    auto r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK((r.is(errc::stopped) || r.is(errc::cancelled)));
  }
}

TEST_CASE("fetcher and origin params are checked at spawn", "[fetcher][params]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto bad_scheme = rt.spawn("f", "fetcher", {{"schemes", value::list{"http", "gopher"}}});
  REQUIRE(bad_scheme.is(errc::bad_request));
  CHECK(bad_scheme.error().message().find("params.schemes[1]: unknown scheme 'gopher'") !=
        std::string::npos);
  auto bad_header = rt.spawn("f", "fetcher", {{"headers", value{{"X-A", 3}}}});
  CHECK(bad_header.is(errc::bad_request));
  auto bad_conn = rt.spawn("f", "fetcher", {{"max_connections", 0}});
  CHECK(bad_conn.is(errc::bad_request));
  auto no_root = rt.spawn("o", "http_origin");
  CHECK(no_root.is(errc::bad_request));
  auto half_tls = rt.spawn("o", "http_origin", {{"root", "/tmp"}, {"tls_cert", "/x.pem"}});
  CHECK(half_tls.is(errc::bad_request));
  auto bad_fault = rt.spawn("o", "http_origin",
                            {{"root", "/tmp"}, {"faults", value::list{value{{"dealy", "1s"}}}}});
  CHECK(bad_fault.is(errc::bad_request));
}

TEST_CASE("the origin refuses paths outside its root and methods it does not serve", "[origin]") {
  site s;
  auto port = static_cast<int>(s.info().port);
  CHECK(raw_status_line(port, "GET /small.bin HTTP/1.0\r\n\r\n").find(" 200 OK") !=
        std::string::npos);
  CHECK(raw_status_line(port, "GET /../etc/passwd HTTP/1.0\r\n\r\n").find("403") !=
        std::string::npos);
  CHECK(raw_status_line(port, "DELETE /small.bin HTTP/1.0\r\n\r\n").find("405") !=
        std::string::npos);
  CHECK(s.get("/")->status == 404); // a directory is not a file
}

TEST_CASE("the origin follows no symbolic link below its root, and never blocks on a FIFO",
          "[origin]") {
  // Like the writer: a link inside the served directory, to a directory or a file outside it
  // (or even inside it), is not followed; real subdirectories are served.
  site s;
  auto outside = scratch_dir();
  write_file(outside.path() + "/secret.txt", pattern(64, 3));
  REQUIRE(::mkdir((s.root + "/sub").c_str(), 0755) == 0);
  write_file(s.root + "/sub/inner.bin", pattern(100, 4));
  REQUIRE(::symlink(outside.path().c_str(), (s.root + "/escape").c_str()) == 0);
  REQUIRE(::symlink((outside.path() + "/secret.txt").c_str(), (s.root + "/file-link").c_str()) ==
          0);
  REQUIRE(::symlink((s.root + "/sub").c_str(), (s.root + "/sub-link").c_str()) == 0);
  REQUIRE(::mkfifo((s.root + "/pipe").c_str(), 0644) == 0);
  auto inner = s.get("/sub/inner.bin");
  REQUIRE(inner.ok());
  CHECK(inner->status == 200);
  CHECK(inner->body == pattern(100, 4));
  CHECK(s.get("//sub///inner.bin")->status == 200); // repeated slashes name the same file
  CHECK(s.get("/escape/secret.txt")->status == 404);
  CHECK(s.get("/file-link")->status == 404);
  CHECK(s.get("/sub-link/inner.bin")->status == 404);
  CHECK(s.get("/sub/")->status == 404);
  CHECK(s.get("/pipe", 5s)->status == 404); // answered, not a connection stuck in open()
}

TEST_CASE("an origin that cannot listen fails its start with the reason", "[origin]") {
  site s;
  auto port = s.info().port;
  auto scratch = scratch_dir();
  auto dir = scratch.path();
  REQUIRE(s.rt.spawn("second", "http_origin", {{"root", dir}, {"port", port}}).ok());
  auto second = s.rt.actor<http_origin>("second").value();
  auto r = second.call(origin_info_request{}, 10s);
  REQUIRE(r.is(errc::start_failed));
  CHECK(r.error().message().find("cannot listen on 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
}

TEST_CASE("the origin announces its port and URL in its ready event", "[origin][events]") {
  auto scratch = scratch_dir();
  auto dir = scratch.path();
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({});
  REQUIRE(rt.spawn("origin", "http_origin", {{"root", dir}}).ok());
  auto e = inbox.next(10s);
  REQUIRE(e.ok());
  REQUIRE(std::holds_alternative<ready_event>(*e));
  auto& ready = std::get<ready_event>(*e);
  CHECK(ready.actor == "origin");
  REQUIRE(ready.info.find("port") != nullptr);
  auto port = ready.info.find("port")->as_integer();
  CHECK(port > 0);
  CHECK(ready.info.find("url")->as_string() == "http://127.0.0.1:" + std::to_string(port));
  CHECK(rt.actor<http_origin>("origin").value().call(origin_info_request{}, 5s)->port == port);
}

TEST_CASE("the fetcher against nginx: files, a 404 as data, keep-alive counted by nginx",
          "[fetcher][nginx]") {
  auto scratch = scratch_dir();
  auto root = scratch.path();
  auto small = pattern(1024, 3);
  auto large = pattern(1 << 20, 4);
  write_file(root + "/small.bin", small);
  write_file(root + "/large.bin", large);
  lbtest::nginx_options opts;
  opts.access_log = true; // `$connection $connection_requests $status $body_bytes_sent $uri`
  lbtest::nginx_server nginx{root, opts};
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("fetch", "fetcher", {{"max_connections", 4}}).ok());
  auto fetch = rt.actor<fetcher>("fetch").value();
  auto get = [&](const std::string& path) {
    return fetch.call(fetch_request::get(nginx.url() + path), 30s);
  };
  auto start = nginx.status();

  auto r = get("/small.bin");
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == small);
  CHECK(r->headers.at("content-length") == "1024");
  CHECK(r->headers.at("server").rfind("nginx", 0) == 0);
  auto big = get("/large.bin");
  REQUIRE(big.ok());
  CHECK(big->status == 200);
  CHECK(big->body.size() == large.size());
  CHECK(big->body == large);
  auto missing = get("/missing.bin");
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  // A HEAD, then GETs on the same few reused handles: each gets what it asked for.
  auto head = fetch_request::get(nginx.url() + "/large.bin");
  head.method = "HEAD";
  auto h = fetch.call(head, 30s);
  REQUIRE(h.ok());
  CHECK(h->status == 200);
  CHECK(h->headers.at("content-length") == std::to_string(large.size()));
  CHECK(h->body.empty());
  CHECK(get("/large.bin")->body == large);

  // 640 requests, 64 outstanding at a time, over a fetcher that may open 4 connections.
  auto before = nginx.status();
  int ok = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<future<fetch_reply>> fs;
    for (int i = 0; i < 64; ++i)
      fs.push_back(fetch.submit(fetch_request::get(nginx.url() + "/small.bin")));
    for (auto& f : fs) {
      REQUIRE(f.wait_for(30s));
      auto x = f.get();
      if (x.ok() && x->status == 200 && x->body == small)
        ++ok;
    }
  }
  CHECK(ok == 640);
  auto after = nginx.status();
  // nginx's own counters: every request reached it (plus the status request itself), and the
  // fetcher opened at most 4 connections in all (the later two status calls opened two more).
  CHECK(after.requests - before.requests == 640 + 1);
  CHECK(after.accepts - start.accepts - 2 <= 4);

  // nginx's access log, per request: the connection's number and its request count on it.
  std::ifstream log{nginx.access_log_path()};
  std::map<long, long> per_connection; // connection -> highest $connection_requests
  long logged = 0;
  for (std::string line; std::getline(log, line);) {
    long conn = 0, nth = 0, status = 0, bytes = 0;
    char uri[256] = {};
    REQUIRE(std::sscanf(line.c_str(), "%ld %ld %ld %ld %255s", &conn, &nth, &status, &bytes, uri) ==
            5);
    if (std::string{uri} == "/nginx_status")
      continue;
    ++logged;
    per_connection[conn] = std::max(per_connection[conn], nth);
  }
  CHECK(logged == 5 + 640);
  CHECK(per_connection.size() <= 4);
  long most = 0;
  for (auto& [conn, n] : per_connection)
    most = std::max(most, n);
  CHECK(most >= (5 + 640) / 4); // requests were spread over at most 4 reused connections
}

TEST_CASE("cookies live in their session: sent back on every handle, kept from other sessions",
          "[fetcher][nginx]") {
  auto scratch = scratch_dir();
  lbtest::nginx_options opts;
  opts.server_extra = R"(
    location = /app/login { add_header Set-Cookie "lb_session=s1; Path=/app"; return 200 "in"; }
    location = /app/whoami { return 200 "[$http_cookie]"; }
    location = /elsewhere/whoami { return 200 "[$http_cookie]"; })";
  lbtest::nginx_server nginx{scratch.path(), opts};
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("alice", "fetcher", {{"max_connections", 8}}).ok());
  REQUIRE(rt.spawn("bob", "fetcher", {{"max_connections", 8}}).ok());
  auto alice = rt.actor<fetcher>("alice").value();
  auto bob = rt.actor<fetcher>("bob").value();
  auto body_of = [&](const actor_handle<fetcher>& who, const std::string& path) {
    auto r = who.call(fetch_request::get(nginx.url() + path), 30s);
    REQUIRE(r.ok());
    REQUIRE(r->status == 200);
    return std::string{r->body.begin(), r->body.end()};
  };
  CHECK(body_of(alice, "/app/whoami") == "[]");
  CHECK(body_of(alice, "/app/login") == "in");
  CHECK(body_of(alice, "/app/whoami") == "[lb_session=s1]");
  // 32 at once run on up to 8 handles and connections: every one sends the session's cookie.
  std::vector<future<fetch_reply>> fs;
  for (int i = 0; i < 32; ++i)
    fs.push_back(alice.submit(fetch_request::get(nginx.url() + "/app/whoami")));
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(std::string(r->body.begin(), r->body.end()) == "[lb_session=s1]");
  }
  CHECK(body_of(alice, "/elsewhere/whoami") == "[]"); // outside the cookie's path
  CHECK(body_of(bob, "/app/whoami") == "[]");         // another session: none of alice's
}
