// The echo kind's failure modes, as the errors host code sees.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

TEST_CASE("echo fail_every N fails exactly every Nth request with echo.failed", "[echo]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "flaky", {{"fail_every", 3}});
  for (int i = 1; i <= 9; ++i) {
    auto r = h.call(echo_request{i}, 5s);
    if (i % 3 == 0) {
      REQUIRE(r.is(echo_errc::failed));
      CHECK(r.error().name() == "echo.failed");
      CHECK(r.error().message() == "failed on purpose (fail_every 3)");
    } else {
      REQUIRE(r.ok());
      CHECK(r->payload == value{i});
    }
  }
  CHECK(h.call(echo_request{"x", 0ms, 0ms, true}, 5s).is(echo_errc::failed));
}

TEST_CASE("echo crash_every N: that request fails with loop.worker_failed, the instance dies",
          "[echo]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "crashy", {{"crash_every", 2}});
  REQUIRE(h.call(echo_request{1}, 5s).ok());
  auto crashed = h.call(echo_request{2}, 5s);
  REQUIRE(crashed.is(errc::worker_failed));
  CHECK(crashed.error().message() == "crashy/0 crashed on purpose (crash_every 2)");
  // No restart policy: the actor has no instance left and says so.
  auto after = h.call(echo_request{3}, 5s);
  REQUIRE(after.is(errc::stopped));
  CHECK(after.error().message().find("crashy stopped: no instance left") != std::string::npos);
}

TEST_CASE("echo crash with requests in flight fails them all with loop.worker_failed", "[echo]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "crashy", {{"crash_every", 5}, {"delay", 200ms}});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 5; ++i)
    fs.push_back(h.submit(echo_request{i}));
  // The fifth crashes the instance while the first four wait on their timers.
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.is(errc::worker_failed));
  }
}

TEST_CASE("block on a scheduled echo is refused with loop.bad_request", "[echo]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  CHECK(h.call(echo_request{"x", 0ms, 10ms}, 5s).is(errc::bad_request));
}
