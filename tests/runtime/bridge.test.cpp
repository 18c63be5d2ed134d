// The bridge: host threads -> event loop -> worker -> host, typed values, deadlines,
// concurrency, and a runtime destroyed with requests in flight.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

TEST_CASE("every kind of value makes the round trip unchanged", "[bridge]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto echo_h = lbtest::spawn_echo(rt, "echo");
  value::bytes binary(256);
  for (int i = 0; i < 256; ++i)
    binary[i] = static_cast<std::uint8_t>(i); // includes NUL and high bytes
  std::string large(1 << 20, 'x');
  std::vector<value> samples = {
      value{},
      value{true},
      value{false},
      value{0},
      value{std::int64_t{-9223372036854775807LL - 1}},
      value{std::int64_t{9223372036854775807LL}},
      value{3.25},
      value{-0.0},
      value{""},
      value{"grüße, 世界 🙂"},
      value{binary},
      value{1500ms},
      value{value::list{1, "two", 3.0, value::list{}, value::map{}}},
      value{{"nested", value{{"deeper", value::list{value{{"k", "v"}}}}}}},
      value{large},
  };
  for (auto& v : samples) {
    auto r = echo_h.call(echo_request{v}, 5s);
    REQUIRE(r.ok());
    CHECK(r->payload == v);
    CHECK(r->payload.kind() == v.kind());
  }
}

TEST_CASE("a request type names its reply type, the reply carries what the worker saw",
          "[bridge]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto echo_h = lbtest::spawn_echo(rt, "echo");
  auto f = echo_h.submit(echo_request{"hi"});
  static_assert(std::is_same_v<decltype(f), future<echo_reply>>);
  REQUIRE(f.valid());
  auto id = f.id();
  CHECK(id > 0);
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->request_id == id);
  CHECK_FALSE(f.valid()); // get() consumes the future
  auto stats = echo_h.call(echo_stats_request{}, 5s);
  REQUIRE(stats.ok());
  CHECK(stats->received == 1);
  CHECK(stats->replied == 1);
}

TEST_CASE("futures: ready, wait_for and get", "[bridge]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto echo_h = lbtest::spawn_echo(rt, "echo");
  auto f = echo_h.submit(echo_request{1, 300ms});
  CHECK_FALSE(f.ready());
  CHECK_FALSE(f.wait_for(10ms)); // still running: wait_for gives up without cancelling
  REQUIRE(f.wait_for(5s));
  CHECK(f.ready());
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->payload == value{1});
  future<echo_reply> empty;
  CHECK_FALSE(empty.valid());
  CHECK(empty.get().is(errc::bad_request));
}

TEST_CASE("a deadline that passes yields loop.timeout and the worker sees its cancel token",
          "[bridge][deadline]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  SECTION("scheduled echo holding the request on a timer") {
    auto echo_h = lbtest::spawn_echo(rt, "echo");
    auto t0 = std::chrono::steady_clock::now();
    auto r = echo_h.call(echo_request{"late", 2s}, 50ms);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(r.is(errc::timeout));
    CHECK(took >= 50ms);
    CHECK(took < 1s);
    // The worker dropped the timer when the cancel reached it.
    auto saw = [&] { return echo_h.call(echo_stats_request{}, 5s)->saw_cancel == 1; };
    CHECK(lbtest::eventually(saw));
  }
  SECTION("blocking echo on its own thread polls the token") {
    auto echo_h = lbtest::spawn_echo(rt, "blocker", {{"dedicated", true}});
    auto t0 = std::chrono::steady_clock::now();
    auto r = echo_h.call(echo_request{"slow", 0ms, 10s}, 50ms);
    INFO("outcome: " << (r.ok() ? std::string{"a reply"} : r.error().to_string()));
    REQUIRE(r.is(errc::timeout));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    // The blocked handler noticed within its polling interval and the instance is free again.
    auto next = echo_h.call(echo_request{"next"}, 5s);
    REQUIRE(next.ok());
    CHECK(echo_h.call(echo_stats_request{}, 5s)->saw_cancel == 1);
  }
}

TEST_CASE("queued requests expire too, without running", "[bridge][deadline]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  // One dedicated instance serves one request at a time and holds at most two.
  auto echo_h = lbtest::spawn_echo(rt, "blocker", {{"dedicated", true}, {"poll_cancel", false}});
  auto busy = echo_h.submit(echo_request{"busy", 0ms, 300ms}, 5s);
  std::vector<future<echo_reply>> waiting;
  for (int i = 0; i < 5; ++i)
    waiting.push_back(echo_h.submit(echo_request{i}, 50ms));
  for (auto& f : waiting)
    CHECK(f.get().is(errc::timeout));
  CHECK(busy.get().ok());
  auto stats = echo_h.call(echo_stats_request{}, 5s);
  REQUIRE(stats.ok());
  // Only the busy request ran: the expired ones were skipped, even the one already handed to
  // the instance's thread.
  CHECK(stats->received == 1);
}

TEST_CASE("8 host threads x 10k requests: every one answered exactly once", "[bridge][load]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto echo_h = lbtest::spawn_echo(rt, "echo");
  constexpr int threads = 8;
  constexpr int per_thread = 10000;
  std::vector<std::vector<std::int64_t>> seen(threads);
  std::vector<std::thread> ts;
  std::atomic<int> errors{0};
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::vector<future<echo_reply>> fs;
      fs.reserve(per_thread);
      for (int i = 0; i < per_thread; ++i)
        fs.push_back(echo_h.submit(echo_request{std::int64_t{t} * per_thread + i}));
      for (auto& f : fs) {
        auto r = f.get();
        if (!r) {
          ++errors;
          continue;
        }
        seen[t].push_back(r->payload.as_integer());
      }
    });
  for (auto& t : ts)
    t.join();
  CHECK(errors == 0);
  std::set<std::int64_t> all;
  for (int t = 0; t < threads; ++t) {
    REQUIRE(seen[t].size() == per_thread);
    for (int i = 0; i < per_thread; ++i)
      CHECK(seen[t][i] == std::int64_t{t} * per_thread + i); // each future got its own reply
    all.insert(seen[t].begin(), seen[t].end());
  }
  CHECK(all.size() == threads * per_thread);
  auto stats = echo_h.call(echo_stats_request{}, 5s);
  CHECK(stats->received == threads * per_thread); // each ran exactly once
}

TEST_CASE("a runtime destroyed with requests in flight resolves every future",
          "[bridge][shutdown]") {
  std::vector<future<echo_reply>> fs;
  {
    auto options = lbtest::quick_options();
    options.shutdown_budget = 500ms; // the slow actors cannot drain in time: they are cancelled
    runtime rt{builtin_kinds(), options};
    auto fast = lbtest::spawn_echo(rt, "fast");
    auto slow = lbtest::spawn_echo(rt, "slow", {{"delay", 10s}});
    auto blocking = lbtest::spawn_echo(rt, "blocking", {{"block", 10s}});
    for (int i = 0; i < 2000; ++i) {
      fs.push_back(fast.submit(echo_request{i}));
      fs.push_back(slow.submit(echo_request{i}));
    }
    for (int i = 0; i < 5; ++i)
      fs.push_back(blocking.submit(echo_request{i}));
  } // the destructor stops the runtime
  int ok = 0, stopped = 0, other = 0;
  for (auto& f : fs) {
    REQUIRE(f.ready()); // resolved by the time the runtime is gone
    auto r = f.get();
    if (r.ok())
      ++ok;
    else if (r.is(errc::stopped))
      ++stopped;
    else
      ++other;
  }
  CHECK(other == 0);
  CHECK(ok + stopped == static_cast<int>(fs.size()));
  CHECK(stopped >= 2005); // everything held by the slow and blocking actors
}

TEST_CASE("handles and futures outliving the runtime fail with loop.stopped, never hang",
          "[bridge][shutdown]") {
  actor_handle<echo> h;
  {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    h = lbtest::spawn_echo(rt, "echo");
    REQUIRE(h.call(echo_request{1}, 5s).ok());
  }
  auto f = h.submit(echo_request{2});
  REQUIRE(f.ready());
  CHECK(f.get().is(errc::stopped));
  CHECK(h.call(echo_request{3}, 5s).is(errc::stopped));
}

TEST_CASE("stop is idempotent and later submits fail at once", "[bridge][shutdown]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  rt.stop();
  rt.stop();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(h.call(echo_request{1}, 5s).is(errc::stopped));
  CHECK(std::chrono::steady_clock::now() - t0 < 100ms);
  CHECK(rt.spawn("late", "echo").is(errc::stopped));
}
