// Blocking offload: functions on blocking pools, with their results, exceptions, context,
// cancel token and deadline; nested calls into the loop from a pool of one; separate threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "loopbridge/log.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

/// Waits (on a pool thread) until the token reports a cancel, or `limit` passes.
bool wait_for_cancel(const cancel_token& token, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!token.cancelled()) {
    if (std::chrono::steady_clock::now() >= end)
      return false;
    std::this_thread::sleep_for(1ms); // a blocking function polling its token, as users do
  }
  return true;
}

} // namespace

TEST_CASE("offload runs a function on the default pool and returns its result", "[offload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto sum = rt.offload([](int a, int b) { return a + b; }, 40, 2);
  auto r = sum.get();
  REQUIRE(r.ok());
  CHECK(*r == 42);
  std::string text = "copied";
  auto upper = rt.offload(
      [](std::string s) {
        for (auto& c : s)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
      },
      text);
  CHECK(upper.get().value() == "COPIED");
  std::atomic<int> ran{0};
  auto nothing = rt.offload([&] { ++ran; });
  CHECK(nothing.get().ok()); // no_value
  CHECK(ran == 1);
  // The default pool is an ordinary actor, spawned on first use with the blocking kind's size.
  auto m = rt.metrics("blocking");
  REQUIRE(m.ok());
  CHECK(m->kind == "blocking");
  CHECK(m->instances == std::min(32u, std::max(1u, std::thread::hardware_concurrency()) + 4u));
  // The function ran on a pool thread, not on the host's.
  auto name = rt.offload([] { return log::thread_name(); }).get().value();
  CHECK(name.rfind("lb.blocking.", 0) == 0);
}

TEST_CASE("an exception in an offloaded function fails its future with the message", "[offload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto f = rt.offload([]() -> int { throw std::runtime_error("disk on fire"); });
  auto r = f.get();
  REQUIRE(r.is(errc::worker_failed));
  CHECK(r.error().message() == "the offloaded function threw: disk on fire");
  CHECK(rt.offload([] { return 1; }).get().value() == 1); // the pool lives on
}

TEST_CASE("the submitter's context is current inside the offloaded function", "[offload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  context_scope scope{context{}.with("user", "ada")};
  auto seen = rt.offload([] {
    auto* v = context::current().find("user");
    return v ? v->as_string() : std::string{"none"};
  });
  CHECK(seen.get().value() == "ada");
}

TEST_CASE("a cancel reaches the offloaded function's token", "[offload][cancel]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  std::atomic<bool> started{false}, saw_cancel{false};
  auto f = rt.offload([&](const cancel_token& token) {
    started = true;
    saw_cancel = wait_for_cancel(token, 10s);
    return 0;
  });
  REQUIRE(lbtest::eventually([&] { return started.load(); }));
  f.cancel();
  CHECK(f.get().is(errc::cancelled));
  CHECK(lbtest::eventually([&] { return saw_cancel.load(); }));
}

TEST_CASE("a deadline cancels the offloaded function", "[offload][cancel]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  std::atomic<bool> saw_cancel{false};
  auto pool = rt.pool("blocking");
  CHECK(pool.is(errc::not_found)); // not spawned yet: nothing offloaded so far
  (void)rt.offload([] {}).get();
  auto f = rt.pool("blocking").value().with_timeout(100ms).offload([&](const cancel_token& token) {
    saw_cancel = wait_for_cancel(token, 10s);
  });
  auto t0 = std::chrono::steady_clock::now();
  CHECK(f.get().is(errc::timeout));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(lbtest::eventually([&] { return saw_cancel.load(); }));
}

TEST_CASE("a function on a pool of one may call an actor and wait for the answer",
          "[offload][would_deadlock]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto pool = lbtest::spawn_blocking_pool(rt, "one", 1);
  auto echo_h = lbtest::spawn_echo(rt, "echo");
  auto f = pool.offload([echo_h] {
    auto r = echo_h.call(echo_request{7}, 5s); // sync_wait: a pool thread may block on the loop
    return r ? r->payload.as_integer() : -1;
  });
  CHECK(f.get().value() == 7);
  // The same thread may even wait on a second offload to another pool.
  auto nested = pool.offload([&rt] {
    auto r = rt.offload([] { return 5; }).get();
    return r ? *r : -1;
  });
  CHECK(nested.get().value() == 5);
}

TEST_CASE("a request cancelled or timed out in a busy pool's lane ends there at once",
          "[offload][pools]") {
  // A pool's backlog waits in its lane (shared by its instances), not only in its queue. A
  // request that is cancelled or times out there is withdrawn and settled at once: it does not
  // wait for the thread to finish the request it runs.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto pool = lbtest::spawn_blocking_pool(rt, "one", 1);
  std::promise<void> gate;
  auto opened = gate.get_future().share();
  std::atomic<bool> running{false};
  auto blocker = pool.offload([opened, &running] {
    running = true;
    opened.wait();
    return -1;
  });
  REQUIRE(lbtest::eventually([&] { return running.load(); }));
  std::vector<future<int>> waiting;
  for (int i = 0; i < 8; ++i)
    waiting.push_back(pool.offload([i] { return i; }));
  auto timed = pool.with_timeout(50ms).offload([] { return 100; });
  REQUIRE(lbtest::eventually([&] { return rt.metrics("one")->in_flight == 10; }));
  waiting[3].cancel();
  CHECK(waiting[3].get().is(errc::cancelled));
  CHECK(timed.get().is(errc::timeout));
  // Settled (counted) while the one thread still runs the first.
  CHECK(lbtest::eventually([&] {
    auto m = rt.metrics("one");
    return m->cancelled == 1 && m->failed == 1 && m->in_flight == 8;
  }));
  CHECK_FALSE(blocker.ready());
  gate.set_value();
  CHECK(blocker.get().value() == -1);
  for (int i = 0; i < 8; ++i)
    if (i != 3)
      CHECK(waiting[static_cast<std::size_t>(i)].get().value() == i);
  CHECK(lbtest::eventually([&] {
    auto m = rt.metrics("one");
    return m->completed == 8 && m->in_flight == 0;
  }));
}

TEST_CASE("a busy pool's lane under random cancels and deadlines resolves each request once "
          "(fixed seeds)",
          "[offload][pools]") {
  // Three threads take from one lane while the host cancels some requests and gives others
  // deadlines shorter than the backlog: withdrawing from the lane races with instances taking.
  // Fixed seeds: a failing seed reproduces the run (the seed is in the section's name).
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    DYNAMIC_SECTION("seed " << seed) {
      std::mt19937 rng{seed};
      runtime rt{builtin_kinds(), lbtest::quick_options()};
      auto pool = lbtest::spawn_blocking_pool(rt, "three", 3);
      constexpr int n = 2000;
      std::vector<future<int>> fs;
      for (int i = 0; i < n; ++i) {
        auto busy = std::chrono::microseconds(rng() % 50);
        auto p =
            rng() % 10 == 0 ? pool.with_timeout(std::chrono::microseconds(rng() % 2000)) : pool;
        fs.push_back(p.offload([i, busy] {
          auto until = std::chrono::steady_clock::now() + busy;
          while (std::chrono::steady_clock::now() < until) {
          }
          return i;
        }));
        if (rng() % 5 == 0)
          fs[rng() % fs.size()].cancel();
      }
      std::uint64_t ok = 0, failed = 0;
      for (int i = 0; i < n; ++i) {
        auto& f = fs[static_cast<std::size_t>(i)];
        REQUIRE(f.wait_for(30s));
        auto r = f.get();
        if (r.ok()) {
          CHECK(*r == i);
          ++ok;
        } else {
          INFO(i << ": " << r.error().to_string());
          CHECK((r.is(errc::cancelled) || r.is(errc::timeout)));
          ++failed;
        }
      }
      // Every request was settled once, by the outcome its future has: the counts add up and
      // nothing is left in flight or queued.
      REQUIRE(lbtest::eventually([&] {
        auto m = rt.metrics("three");
        return m->in_flight == 0 && m->queued == 0 &&
               m->completed + m->failed + m->cancelled == static_cast<std::uint64_t>(n);
      }));
      auto m = rt.metrics("three");
      CHECK(m->completed == ok);
      CHECK(m->failed + m->cancelled == failed);
      CHECK(ok > 0);
      CHECK(failed > 0);
    }
  }
}

TEST_CASE("pool() names only actors that run functions", "[offload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "echo");
  CHECK(rt.pool("echo").is(errc::wrong_kind));
  CHECK(rt.pool("nope").is(errc::not_found));
  runtime_options named = lbtest::quick_options();
  named.offload_pool = "io";
  runtime rt2{builtin_kinds(), named};
  REQUIRE(rt2.offload([] { return 1; }).get().ok());
  CHECK(rt2.pool("io").ok());
  kind_registry only_echo;
  only_echo.add<echo>();
  runtime bare{only_echo, lbtest::quick_options()};
  auto none = bare.offload([] { return 1; }).get();
  REQUIRE(none.is(errc::not_found));
  CHECK(none.error().message() ==
        "no blocking pool 'blocking', and the kind 'blocking' is not registered to make one");
}

TEST_CASE("offload_separate runs long-lived work on its own thread, stop cancels and joins it",
          "[offload][shutdown]") {
  std::atomic<bool> started{false}, saw_cancel{false};
  future<no_value> worker;
  {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    subscription sub;
    sub.types = {event_type::stopped};
    sub.actors = {"separate.1"};
    auto stops = rt.subscribe(sub);
    auto quick = rt.offload_separate([] { return log::thread_name(); });
    CHECK(quick.get().value() == "lb.separate.1.0");
    worker = rt.offload_separate([&](const cancel_token& token) {
      started = true;
      saw_cancel = wait_for_cancel(token, 20s);
    });
    REQUIRE(lbtest::eventually([&] { return started.load(); }));
    // The first separate thread finished: its one-shot actor stopped after its task.
    auto stopped = stops.next(5s);
    REQUIRE(stopped.ok());
    CHECK(std::get<stopped_event>(*stopped).total_completed == 1);
    CHECK(std::get<stopped_event>(*stopped).completed == 0); // nothing left for its stop
    auto t0 = std::chrono::steady_clock::now();
    auto& report = rt.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 4s);
    CHECK(report.stuck.empty());
    CHECK(saw_cancel); // the stop joined the thread: its function has returned
  }
  // It returned when it saw the cancel, within the budget: its future has what it returned.
  CHECK(worker.get().ok());
}
