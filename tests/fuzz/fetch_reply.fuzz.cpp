// libFuzzer target: the fetcher given arbitrary response bytes. A loopback server answers each
// request with the input (after its first byte) as it is, then closes the connection. Every
// request must end with a reply or a typed fetch error — never another kind of failure — in
// bounded time, without a crash or a leak. The first byte picks the request: its method (GET,
// HEAD, POST with a body, GET with a header of its own) and its body limit (the default, 64
// bytes, none). Redirects are off: a Location may name any host, and a fuzzer must not reach
// the network. Error messages stay one printable, bounded line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/runtime.hpp"
#include "support/raw_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace fetch_errc = loopbridge::actors::fetch_errc;
using loopbridge::actors::fetch_reply;
using loopbridge::actors::fetch_request;
using loopbridge::actors::fetcher;

/// The server, then the runtime and its fetcher (destroyed in reverse: the fetcher first).
struct harness {
  lbtest::raw_server server{std::string{}};
  loopbridge::runtime rt{loopbridge::actors::builtin_kinds()};
  loopbridge::actor_handle<fetcher> fetch;

  harness() {
    rt.spawn("fetch", "fetcher", {{"redirects", 0}, {"timeout", 3s}, {"max_connections", 2}})
        .value();
    fetch = rt.actor<fetcher>("fetch").value();
  }
};

bool typed_fetch_error(const loopbridge::error& e) {
  // A server that answers at once can still break every rule of HTTP; the fetcher names how.
  return e.is(fetch_errc::protocol) || e.is(fetch_errc::too_large) || e.is(fetch_errc::timeout) ||
         e.is(fetch_errc::connect_failed);
}

/// `reply` with every folded header line (a line break followed by a space or a tab, in any
/// header block: a 1xx reply is followed by another) made a header line of its own; a body
/// may change too, which the fetcher does not look into. Debian's libcurl
/// 7.88.1 has a heap use-after-free in the header storage it keeps for `curl_easy_header` when
/// it unfolds such a line on a reused handle (inside curl_multi_perform; docs/fuzzing.md): the
/// fetcher cannot keep libcurl from parsing them, so the target leaves that shape out rather
/// than find the same third-party bug on every run.
std::string without_folded_headers(std::string reply) {
  for (std::size_t i = 0; i + 1 < reply.size(); ++i)
    if (reply[i] == '\n' && (reply[i + 1] == ' ' || reply[i + 1] == '\t'))
      reply[i + 1] = 'X';
  return reply;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static harness h;
  std::uint8_t shape = size > 0 ? data[0] : 0;
  h.server.set_answer(without_folded_headers(
      size > 0 ? std::string(reinterpret_cast<const char*>(data + 1), size - 1) : std::string{}));
  auto q = fetch_request::get(h.server.url() + "/fuzz");
  switch (shape % 4) {
    case 1:
      q.method = "HEAD";
      break;
    case 2:
      q.method = "POST";
      q.body = {'x', 'y', 'z'};
      break;
    case 3:
      q.headers["X-Fuzz"] = "1";
      break;
    default:
      break;
  }
  const std::int64_t limits[] = {-1, 64, 0};
  auto limit = limits[(shape / 4) % 3];
  q.max_body = limit;
  auto r = h.fetch.call(std::move(q), 8s);
  if (r.ok()) {
    if (r->status < 0 || r->status > 999 ||
        (limit >= 0 && r->body.size() > static_cast<std::size_t>(limit)))
      __builtin_trap();
    for (auto& [name, value] : r->headers) // parsed here, on first read: lower-case names
      if (name.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ\n") != std::string::npos ||
          value.find('\n') != std::string::npos)
        __builtin_trap();
  } else {
    if (!typed_fetch_error(r.error()))
      __builtin_trap();
    // The message quotes the server's bytes at most bounded and escaped: one printable line.
    auto& m = r.error().message();
    if (m.size() > 2048 || std::any_of(m.begin(), m.end(), [](char c) {
          auto u = static_cast<unsigned char>(c);
          return u < 0x20 || u == 0x7f;
        }))
      __builtin_trap();
  }
  return 0;
}
