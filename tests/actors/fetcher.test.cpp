// The fetcher against the embedded origin over real loopback HTTP: success, keep-alive reuse
// (counted by the server), every error kind, cancellation, shutdown with transfers in flight,
// thousands outstanding on a few connections, deadlines counted from submission, hosts that
// never answer. Hostile input: requests that would smuggle headers, servers that break HTTP
// (raw loopback servers with exact bytes), error messages that quote input. Also the origin
// itself: faults, path refusal, connection limits.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#include "fetcher/fetch_session.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/completion_queue.hpp"
#include "open_file_limit.hpp"
#include "support/nginx_fixture.hpp"
#include "support/raw_server.hpp"
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
        "scheme 'ftp' of 'ftp://127.0.0.1/x' is not allowed (allowed: http)");
  CHECK(s.get("https://127.0.0.1/x").is(fetch_errc::scheme_not_allowed));
  auto bad_method = fetch_request::get(s.url + "/small.bin");
  bad_method.method = "GE T";
  CHECK(s.fetch.call(bad_method, 10s).is(fetch_errc::bad_request));
  CHECK(s.info().requests == 0);
}

TEST_CASE("network failures map to their own error kinds", "[fetcher][errors]") {
  site s;
  auto refused = s.get("http://127.0.0.1:" + std::to_string(lbtest::closed_port()) + "/x");
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
  // The fetcher's counters saw the cancel (the loop counts it once the session lets the
  // request go, which may come after the host saw both futures resolved).
  auto cancelled = [&] {
    for (auto& a : s.rt.metrics())
      if (a.name == "fetch")
        return a.cancelled;
    return std::uint64_t{0};
  };
  CHECK(lbtest::eventually([&] { return cancelled() == 1; }, 5s));
  CHECK(cancelled() == 1);
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

// -- hostile requests and replies -----------------------------------------------------------------

TEST_CASE("CR, LF and NUL in the method, a header or the URL are refused: fetch.bad_request",
          "[fetcher][errors][nginx]") {
  auto scratch = scratch_dir();
  lbtest::nginx_options opts;
  opts.server_extra = R"(
    location = /echo { return 200 "[$http_x_injected][$http_x_note]"; })";
  lbtest::nginx_server nginx{scratch.path(), opts};
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("fetch", "fetcher", value::map{}).ok());
  auto fetch = rt.actor<fetcher>("fetch").value();
  auto with_header = [&](std::string name, std::string value) {
    auto q = fetch_request::get(nginx.url() + "/echo");
    q.headers[std::move(name)] = std::move(value);
    return fetch.call(std::move(q), 10s);
  };
  auto body_of = [](const result<fetch_reply>& r) {
    return r.ok() ? std::string{r->body.begin(), r->body.end()} : r.error().message();
  };
  // A header of the request's own reaches the server as it is.
  auto fine = with_header("X-Note", "plain");
  REQUIRE(fine.ok());
  CHECK(body_of(fine) == "[][plain]");
  auto before = nginx.status();

  auto crlf = with_header("X-Note", "a\r\nX-Injected: yes");
  REQUIRE(crlf.is(fetch_errc::bad_request));
  CHECK_THAT(crlf.error().message(), Catch::Contains("X-Note") && Catch::Contains("\\x0d\\x0a"));
  CHECK(with_header("X-Note", "a\nX-Injected: yes").is(fetch_errc::bad_request));
  CHECK(with_header("X-Note", "a\rX-Injected: yes").is(fetch_errc::bad_request));
  CHECK(with_header("X-Note", std::string{"a\0b", 3}).is(fetch_errc::bad_request));
  CHECK(with_header("X-Injected: yes\r\nX-Note", "a").is(fetch_errc::bad_request));
  CHECK(with_header("X Note", "a").is(fetch_errc::bad_request)); // not an HTTP token
  CHECK(with_header("", "a").is(fetch_errc::bad_request));
  auto method = fetch_request::get(nginx.url() + "/echo");
  method.method = "GET /echo HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET";
  auto bad_method = fetch.call(method, 10s);
  REQUIRE(bad_method.is(fetch_errc::bad_request));
  CHECK(bad_method.error().message().find('\r') == std::string::npos);
  method.method = std::string{"GET\0", 4};
  CHECK(fetch.call(method, 10s).is(fetch_errc::bad_request));
  // A NUL used to end the URL early: the part before it was fetched.
  auto nul = fetch.call(fetch_request::get(nginx.url() + std::string{"/echo\0/secret", 13}), 10s);
  REQUIRE(nul.is(fetch_errc::bad_request));
  CHECK_THAT(nul.error().message(), Catch::Contains("NUL") && Catch::Contains("\\x00/secret"));

  // None of them reached nginx (its count grows by its own two status requests only), and the
  // next request carries no injected header.
  auto after = nginx.status();
  CHECK(after.requests - before.requests == 1);
  CHECK(body_of(with_header("X-Note", "again")) == "[][again]");

  // The session's own headers and User-Agent are checked when the fetcher is spawned.
  auto session_header =
      rt.spawn("f2", "fetcher", {{"headers", value{{"X-Note", "a\r\nX-Injected: yes"}}}});
  REQUIRE(session_header.is(errc::bad_request));
  CHECK_THAT(session_header.error().message(), Catch::Contains("headers.X-Note"));
  auto agent = rt.spawn("f3", "fetcher", {{"user_agent", "lb\r\nX-Injected: yes"}});
  REQUIRE(agent.is(errc::bad_request));
  CHECK_THAT(agent.error().message(), Catch::Contains("user_agent"));
}

TEST_CASE("a reply that breaks HTTP is fetch.protocol: cut-off headers, not HTTP, two lengths",
          "[fetcher][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("fetch", "fetcher", value::map{}).ok());
  auto fetch = rt.actor<fetcher>("fetch").value();
  struct shape {
    const char* what;
    std::string answer;
    bool fine;           // a reply with status 200 and body "hello"
    const char* message; // in the error's message (nullptr: any)
  };
  const char* cut_off = "closed in the middle of the response headers";
  std::vector<shape> shapes{
      {"closed in the middle of the headers", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
       false, cut_off},
      {"closed after the status line", "HTTP/1.1 200 OK\r\n", false, cut_off},
      {"closed in the middle of a header line", "HTTP/1.1 200 OK\r\nContent-Typ", false, nullptr},
      {"an SSH banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", false, nullptr},
      {"text that is not HTTP", "hello\r\n\r\nworld", false, nullptr},
      {"a status of more than three digits (found by the fuzzer)",
       "HTTP/23301 Moved Permanently\r\nContent-Length: 5\r\n\r\nhello", false,
       "the status line is not HTTP (status 3301)"},
      {"two different Content-Length headers",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", false,
       "conflicting Content-Length headers (5 and 6)"},
      {"a list of different lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
       false, "conflicting Content-Lengths"},
      {"a length with junk after it", "HTTP/1.1 200 OK\r\nContent-Length: 5abc\r\n\r\nhello", false,
       "invalid Content-Length"},
      {"an empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhello", false,
       nullptr}, // libcurl refuses it itself
      {"a well-formed reply", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true, nullptr},
      {"the same length twice",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", true, nullptr},
      {"a list of equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", true,
       nullptr},
  };
  for (auto& sh : shapes) {
    INFO(sh.what);
    lbtest::raw_server server{sh.answer};
    auto r = fetch.call(fetch_request::get(server.url() + "/x"), 10s);
    CHECK(server.accepted() >= 1);
    if (sh.fine) {
      REQUIRE(r.ok());
      CHECK(r->status == 200);
      CHECK(std::string(r->body.begin(), r->body.end()) == "hello");
      continue;
    }
    INFO((r.ok() ? "status " + std::to_string(r->status) : r.error().message()));
    REQUIRE(r.is(fetch_errc::protocol));
    if (sh.message)
      CHECK_THAT(r.error().message(), Catch::Contains(sh.message));
  }
}

TEST_CASE("a Content-Length of exabytes under a huge max_body reserves no more than its limit",
          "[fetcher][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("fetch", "fetcher", value::map{}).ok());
  auto fetch = rt.actor<fetcher>("fetch").value();
  // The body is reserved from the announced length up to `reserve_limit`: reserving 4 EiB
  // would throw inside libcurl's header callback and end the process.
  lbtest::raw_server server{"HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\nhello"};
  auto req = fetch_request::get(server.url() + "/x");
  req.max_body = std::numeric_limits<std::int64_t>::max();
  auto r = fetch.call(req, 10s);
  REQUIRE(r.is(fetch_errc::protocol)); // the connection closed 4 EiB early
  // The fetcher goes on serving.
  lbtest::raw_server fine{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"};
  auto ok = fetch.call(fetch_request::get(fine.url() + "/y"), 10s);
  REQUIRE(ok.ok());
  CHECK(std::string(ok->body.begin(), ok->body.end()) == "hello");
}

TEST_CASE("error messages quote input bounded and printable", "[fetcher][errors]") {
  site s;
  std::string huge(3u << 20, 'a');
  // A 3 MB URL is a URL: the connection fails, and the message quotes 120 bytes of it.
  auto url = "http://127.0.0.1:" + std::to_string(lbtest::closed_port()) + "/" + huge;
  auto refused = s.get(url);
  REQUIRE(refused.is(fetch_errc::connect_failed));
  CHECK(refused.error().message().size() < 600);
  CHECK_THAT(refused.error().message(), Catch::Contains("/aaaa") && Catch::Contains("a..."));
  // Control characters are escaped, whatever their place.
  auto clear_screen = s.get("not a url \x1b[2J\x9b" + huge);
  REQUIRE(clear_screen.is(fetch_errc::bad_url));
  auto& m = clear_screen.error().message();
  CHECK(m.size() < 600);
  CHECK_THAT(m, Catch::Contains("not a url \\x1b[2J\\x9b"));
  CHECK(std::none_of(m.begin(), m.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  }));
  auto method = fetch_request::get(s.url + "/small.bin");
  method.method = "\x1b]0;owned\x07" + huge;
  auto bad_method = s.fetch.call(method, 10s);
  REQUIRE(bad_method.is(fetch_errc::bad_request));
  CHECK(bad_method.error().message().size() < 600);
  CHECK_THAT(bad_method.error().message(), Catch::StartsWith("'\\x1b]0;owned\\x07aaa"));
}

// -- deadlines and hosts that never answer --------------------------------------------------------

TEST_CASE("a request's timeout counts from its submission, waiting for a connection included",
          "[fetcher][errors]") {
  // A request to a server that never answers holds the only connection there may be: the next
  // request waits for it, and fails at its own deadline, before the first one's.
  lbtest::raw_server hole{lbtest::raw_server::black_hole};
  auto check = [&](site& s, const std::string& second_url, const char* why) {
    auto held = fetch_request::get(hole.url() + "/held");
    held.timeout = 3s;
    auto accepted = hole.accepted(); // before the submit: the connection may come at once
    auto first = s.fetch.submit(std::move(held));
    REQUIRE(lbtest::eventually([&] { return hole.accepted() == accepted + 1 || first.ready(); }));
    auto waiting = fetch_request::get(second_url);
    waiting.timeout = 200ms;
    auto second = s.fetch.submit(std::move(waiting));
    completion_queue done;
    REQUIRE(done.watch(first).ok());
    REQUIRE(done.watch(second).ok());
    auto token = done.pop(10s);
    REQUIRE(token.ok());
    CHECK(*token == 1); // the waiting one ends first: at its own deadline, not after the first's
    auto r = second.get();
    REQUIRE(r.is(fetch_errc::timeout));
    CHECK_THAT(r.error().message(),
               Catch::Contains("no complete response within 200 ms") && Catch::Contains(why));
    REQUIRE(done.pop(10s).ok());
    CHECK(first.get().is(fetch_errc::timeout));
  };
  SECTION("waiting in the session's queue for its host") {
    site s{value{{"max_per_host", 1}}};
    check(s, hole.url() + "/waits", "no connection was free");
  }
  SECTION("waiting inside libcurl for any connection") {
    site s{value{{"max_connections", 1}}};
    check(s, s.url + "/small.bin", "0 body bytes received");
    CHECK(s.get("/small.bin")->body == s.small); // the connection is free again
  }
}

TEST_CASE("a host that never answers holds max_per_host connections while other hosts go on",
          "[fetcher][errors][load]") {
  // 300 requests to a black hole and 200 to a healthy origin, submitted together (the black
  // hole's first): every healthy request completes before the first black-hole request times
  // out. Checked by the order of completions, not by the clock; the timeout only needs to be
  // longer than 200 small local fetches take.
  site s{value{{"max_connections", 16}, {"max_per_host", 8}}};
  lbtest::raw_server hole{lbtest::raw_server::black_hole};
  std::vector<future<fetch_reply>> fs;
  completion_queue done;
  auto submit = [&](const std::string& url) {
    auto q = fetch_request::get(url);
    q.timeout = 5s;
    fs.push_back(s.fetch.submit(std::move(q), 60s));
    REQUIRE(done.watch(fs.back()).ok());
  };
  for (int i = 0; i < 300; ++i)
    submit(hole.url() + "/hole/" + std::to_string(i));
  for (int i = 0; i < 200; ++i)
    submit(s.url + "/small.bin");
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto token = done.pop(60s);
    REQUIRE(token.ok());
    order.push_back(*token);
  }
  auto first_hole = std::find_if(order.begin(), order.end(), [](auto t) { return t < 300; });
  CHECK(first_hole - order.begin() == 200); // every healthy one came first
  int healthy_ok = 0, hole_timeouts = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto r = fs[i].get();
    if (i >= 300) {
      healthy_ok += r.ok() && r->body == s.small;
      continue;
    }
    hole_timeouts += r.is(fetch_errc::timeout);
  }
  CHECK(healthy_ok == 200);
  CHECK(hole_timeouts == 300);
  CHECK(hole.peak_open() <= 8); // the per-host limit held
}

// -- the origin's connection limit ----------------------------------------------------------------

namespace {
/// A raw HTTP/1.1 keep-alive client of the origin (a blocking socket with deadlines).
struct keep_alive_client {
  int fd = -1;
  explicit keep_alive_client(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~keep_alive_client() { close(); }
  void close() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
  void send_get(const std::string& path) {
    auto req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  }
  /// Whether anything (bytes, EOF or a reset) arrives within `wait`.
  bool hears_within(std::chrono::milliseconds wait) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }
  /// Reads one response with a body of `body_size` bytes within `deadline`; its status line.
  std::string read_response(std::size_t body_size, std::chrono::milliseconds deadline = 10s) {
    std::string in;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos && in.size() >= head_end + 4 + body_size)
        return in.substr(0, in.find("\r\n"));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !hears_within(left))
        return "timed out after " + std::to_string(in.size()) + " bytes";
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return n == 0 ? "closed after " + std::to_string(in.size()) + " bytes"
                      : std::string{"error: "} + std::strerror(errno);
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
};

/// Reads one response (a 1 KiB body) on each client in turn: how many were "200 OK", and the
/// first that was not (which client, what it saw) for the failure message.
struct answers {
  int ok = 0;
  std::string first_failure;
};
answers read_answers(const std::vector<std::unique_ptr<keep_alive_client>>& clients) {
  answers a;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    auto status = clients[i]->read_response(1024);
    if (status == "HTTP/1.1 200 OK")
      ++a.ok;
    else if (a.first_failure.empty())
      a.first_failure = "client " + std::to_string(i) + ": " + status;
  }
  return a;
}
} // namespace

namespace {
int hold_entered[2] = {-1, -1}; ///< the held thread's handler writes a byte on entry and exit
int hold_release[2] = {-1, -1}; ///< and waits for a byte here

extern "C" void hold_handler(int) {
  int saved = errno;
  char b = 0;
  [[maybe_unused]] auto w = ::write(hold_entered[1], &b, 1);
  while (::read(hold_release[0], &b, 1) < 0 && errno == EINTR) {
  }
  w = ::write(hold_entered[1], &b, 1);
  errno = saved;
}

/// Holds the one thread of this process named `name` in a signal handler until `release`: it is
/// off the CPU meanwhile, as a server thread on a loaded machine can be, at a moment the test
/// chooses. One at a time; the thread must not block the signal.
class thread_hold {
public:
  explicit thread_hold(const std::string& name) {
    pid_t tid = 0;
    int found = 0;
    for (auto& task : std::filesystem::directory_iterator{"/proc/self/task"}) {
      std::ifstream comm{task.path() / "comm"};
      std::string n;
      if (std::getline(comm, n) && n == name) {
        tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
        ++found;
      }
    }
    REQUIRE(found == 1);
    REQUIRE(::pipe2(hold_entered, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(hold_release, O_CLOEXEC) == 0);
    struct sigaction sa {};
    sa.sa_handler = &hold_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    REQUIRE(::sigaction(signal(), &sa, &previous_) == 0);
    REQUIRE(::syscall(SYS_tgkill, ::getpid(), tid, signal()) == 0);
    held_ = true;
    REQUIRE(handler_wrote()); // it is in the handler
  }
  ~thread_hold() {
    if (held_)
      release();
  }
  /// Lets the thread go on; true once its handler has returned.
  bool release() {
    held_ = false;
    char b = 0;
    bool ok = ::write(hold_release[1], &b, 1) == 1 && handler_wrote();
    ::sigaction(signal(), &previous_, nullptr);
    for (int* p : {hold_entered, hold_release})
      for (int i = 0; i < 2; ++i)
        ::close(std::exchange(p[i], -1));
    return ok;
  }

private:
  static int signal() { return SIGRTMIN + 7; }
  static bool handler_wrote() {
    pollfd p{hold_entered[0], POLLIN, 0};
    char b;
    return ::poll(&p, 1, 10000) == 1 && ::read(hold_entered[0], &b, 1) == 1;
  }
  struct sigaction previous_ {};
  bool held_ = false;
};
} // namespace

TEST_CASE("the origin serves max_connections keep-alive clients, those beyond wait unharmed",
          "[origin]") {
  site s{value::map{}, value{{"max_connections", 4}}};
  auto port = static_cast<int>(s.info().port);
  std::vector<std::unique_ptr<keep_alive_client>> served;
  for (int i = 0; i < 4; ++i) {
    served.push_back(std::make_unique<keep_alive_client>(port));
    served.back()->send_get("/small.bin");
    CHECK(served.back()->read_response(1024) == "HTTP/1.1 200 OK");
  }
  // Two more connect (the kernel completes the handshake) and ask: no answer, no reset.
  keep_alive_client fifth{port}, sixth{port};
  fifth.send_get("/small.bin");
  sixth.send_get("/small.bin");
  CHECK_FALSE(fifth.hears_within(300ms));
  CHECK_FALSE(sixth.hears_within(10ms));
  // The served ones keep their connections meanwhile.
  served[2]->send_get("/small.bin");
  CHECK(served[2]->read_response(1024) == "HTTP/1.1 200 OK");
  // Each connection that closes lets one waiting client in.
  served[0]->close();
  CHECK(fifth.read_response(1024) == "HTTP/1.1 200 OK");
  served[1]->close();
  CHECK(sixth.read_response(1024) == "HTTP/1.1 200 OK");
  CHECK(s.info().connections == 6);
}

TEST_CASE("the origin serves more than 1024 concurrent keep-alive clients", "[origin][load]") {
  // Descriptors above 1024 broke select(): 1,100 clients, each connected and served in turn and
  // all kept open, then every one asks again on its connection. None is reset or left waiting.
  constexpr int clients = 1100;
  // Both ends of every connection live in this process (plus the runtime's own descriptors).
  if (ensure_open_file_limit(2 * clients + 256) < 2 * clients + 256) {
    WARN("the hard RLIMIT_NOFILE is below " << 2 * clients + 256 << ": test not run");
    return;
  }
  site s{value::map{}, value{{"max_connections", 1200}}};
  auto port = static_cast<int>(s.info().port);
  std::vector<std::unique_ptr<keep_alive_client>> open;
  open.reserve(clients);
  int first = 0;
  for (int i = 0; i < clients; ++i) {
    open.push_back(std::make_unique<keep_alive_client>(port));
    open.back()->send_get("/small.bin");
    first += open.back()->read_response(1024) == "HTTP/1.1 200 OK";
  }
  CHECK(first == clients);
  CHECK(open.back()->fd > 1024); // descriptors beyond select()'s reach, on this side too
  for (auto& c : open)
    c->send_get("/small.bin");
  auto again = read_answers(open);
  INFO("first failure: " << again.first_failure);
  CHECK(again.ok == clients);
  CHECK(s.info().connections == static_cast<std::uint64_t>(clients));
}

TEST_CASE("the origin answers 128 requests that arrive while its thread is held",
          "[origin][load]") {
  // libmicrohttpd's own epoll thread reads ready events 128 at a time and, after a full batch,
  // waited for more as if none were ready: requests that came to exactly 128 at once (its thread
  // scheduled out on a loaded machine) waited for the connection timeout (60 s), then were
  // closed unread. Its thread is held while 128 keep-alive clients ask again: all are answered.
  constexpr int clients = 128;
  site s;
  auto port = static_cast<int>(s.info().port);
  std::vector<std::unique_ptr<keep_alive_client>> open;
  for (int i = 0; i < clients; ++i) {
    open.push_back(std::make_unique<keep_alive_client>(port));
    open.back()->send_get("/small.bin");
    REQUIRE(open.back()->read_response(1024) == "HTTP/1.1 200 OK");
  }
  const std::string get = "GET /small.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int sent = 0;
  {
    thread_hold hold{"lb.origin.loop"};
    for (auto& c : open) // no allocation while the thread is held (it may hold a malloc lock)
      sent +=
          ::send(c->fd, get.data(), get.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(get.size());
    CHECK(hold.release());
  }
  CHECK(sent == clients);
  auto again = read_answers(open);
  INFO("first failure: " << again.first_failure);
  CHECK(again.ok == clients);
}

TEST_CASE("one fetcher with 600 connections against an origin of max_connections 2000",
          "[origin][fetcher][load]") {
  // Above ~500 concurrent clients the origin used to reset connections (select() and
  // descriptors above 1024): 2,000 requests over 600 connections all succeed.
  site s{value{{"max_connections", 600}}, value{{"max_connections", 2000}}};
  // Each answer is held 200 ms: no connection can be reused before the fetcher has opened all
  // it may (however slowly the machine runs), so the origin sees hundreds of clients at once.
  auto held = fault_on("/small.bin");
  held.delay = 200ms;
  s.faults({held});
  std::vector<future<fetch_reply>> fs;
  fs.reserve(2000);
  for (int i = 0; i < 2000; ++i)
    fs.push_back(s.fetch.submit(fetch_request::get(s.url + "/small.bin")));
  int ok = 0, protocol = 0;
  std::string first_error;
  for (auto& f : fs) {
    REQUIRE(f.wait_for(60s));
    auto r = f.get();
    if (r.ok() && r->status == 200 && r->body == s.small)
      ++ok;
    else if (!r.ok() && first_error.empty())
      first_error = r.error().message();
    protocol += r.is(fetch_errc::protocol);
  }
  INFO(first_error);
  CHECK(protocol == 0);
  CHECK(ok == 2000);
  CHECK(s.info().connections >= 500); // it really had that many clients at once
}

TEST_CASE("a delayed or trickled answer does not hold up the origin's other connections",
          "[origin]") {
  // The origin runs every connection on one thread: a delay suspends its connection only.
  site s;
  auto slow = fault_on("/slow.bin");
  slow.delay = 30s;
  auto trickle = fault_on("/large.bin");
  trickle.trickle = 16 * 1024; // a minute for the file
  s.faults({slow, trickle});
  write_file(s.root + "/slow.bin", s.small);
  auto delayed = s.fetch.submit(fetch_request::get(s.url + "/slow.bin"));
  auto trickled = s.fetch.submit(fetch_request::get(s.url + "/large.bin"));
  REQUIRE(lbtest::eventually([&] { return s.info().requests >= 2; }));
  for (int i = 0; i < 20; ++i)
    CHECK(s.get("/small.bin")->body == s.small);
  CHECK_FALSE(delayed.ready());
  CHECK_FALSE(trickled.ready());
  delayed.cancel();
  trickled.cancel();
}
