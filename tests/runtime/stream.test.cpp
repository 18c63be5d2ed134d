// Bounded streams: the producer's lead over the consumer stays within max_buffer (observed);
// closing stops even a producer that waits for room, its cleanup within 50 ms; producer errors
// arrive after the items before them; many streams share a small pool; stop closes streams.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A generator of `n` integers that counts what it produced and records when it was destroyed
/// (its cleanup).
struct counting_generator {
  int next_value = 0;
  int n;
  std::shared_ptr<std::atomic<int>> produced;
  std::shared_ptr<std::atomic<steady::rep>> cleaned_at;
  counting_generator(int count, std::shared_ptr<std::atomic<int>> p,
                     std::shared_ptr<std::atomic<steady::rep>> c)
      : n(count),
        produced(std::move(p)),
        cleaned_at(std::move(c)) {}
  counting_generator(counting_generator&& o) noexcept
      : next_value(o.next_value),
        n(o.n),
        produced(std::move(o.produced)),
        cleaned_at(std::move(o.cleaned_at)) {}
  ~counting_generator() {
    if (cleaned_at)
      cleaned_at->store(steady::now().time_since_epoch().count());
  }
  std::optional<int> operator()() {
    if (next_value == n)
      return std::nullopt;
    ++*produced;
    return next_value++;
  }
};

/// Records the time of its destruction: a producer's cleanup (like a `finally`).
struct cleanup_probe {
  std::shared_ptr<std::atomic<steady::rep>> at;
  ~cleanup_probe() { at->store(steady::now().time_since_epoch().count()); }
};

/// Drains `s` to its end, checking the items are first, first + 1, ...; returns one past the
/// last.
template <class T>
int drain_in_order(loopbridge::stream<T>& s, int first) {
  int expected = first;
  for (;;) {
    auto item = s.next(10s);
    REQUIRE(item.ok());
    if (!item->has_value())
      return expected;
    CHECK(**item == expected);
    ++expected;
  }
}

} // namespace

TEST_CASE("a pulled stream's producer never runs more than max_buffer ahead", "[streams]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto produced = std::make_shared<std::atomic<int>>(0);
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  auto s = rt.stream(counting_generator{1000, produced, cleaned}, 8);
  int taken = 0;
  for (int round = 0; round < 50; ++round) {
    // Let the producer run as far as it may, then observe its lead. It refills once the
    // consumer took half the buffer, so taking exactly half per round always triggers a fill
    // that runs until the lead is 8 again (taking more could let a fast fill finish early).
    REQUIRE(lbtest::eventually([&] { return produced->load() - taken == 8; }));
    for (int k = 0; k < 4; ++k) {
      auto item = s.next(10s);
      REQUIRE(item.ok());
      REQUIRE(item->has_value());
      CHECK(**item == taken);
      ++taken;
      CHECK(produced->load() - taken <= 8);
    }
  }
  CHECK(s.max_lead() == 8);
  CHECK(drain_in_order(s, taken) == 1000);                         // the rest, in order
  CHECK(lbtest::eventually([&] { return cleaned->load() != 0; })); // generator destroyed at the end
}

TEST_CASE("a stream's items arrive in order and its lead stays bounded at any pace, random "
          "seeds",
          "[streams][stress]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  // Fixed seeds: a failing seed reproduces the run (the seed is in the section's name).
  for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
    DYNAMIC_SECTION("seed " << seed) {
      std::mt19937 rng{seed};
      std::size_t max_buffer = std::vector<std::size_t>{1, 2, 3, 64}[seed - 1];
      constexpr int items = 50'000;
      // The producer and the consumer each pause for a random number of spins, in bursts,
      // so each side in turn outruns the other: the producer fills the buffer and waits for
      // room, or the consumer empties it and waits for an item.
      auto pace = [](std::mt19937& r) {
        auto spins = r() % 8 == 0 ? r() % 20'000 : 0;
        volatile std::uint32_t sink = 0;
        for (std::uint32_t k = 0; k < spins; ++k)
          sink = sink + k;
      };
      auto produced = std::make_shared<std::atomic<int>>(0);
      auto s = rt.stream(
          [n = 0, produced, r = std::mt19937{seed * 7919u}, pace]() mutable -> std::optional<int> {
            if (n == items)
              return std::nullopt;
            pace(r);
            ++*produced;
            return n++;
          },
          max_buffer);
      for (int expected = 0; expected < items; ++expected) {
        auto item = s.next(10s);
        REQUIRE(item.ok());
        REQUIRE(item->has_value());
        REQUIRE(**item == expected);
        REQUIRE(static_cast<std::size_t>(produced->load()) - (expected + 1) <= max_buffer);
        pace(rng);
      }
      auto end = s.next(10s);
      REQUIRE(end.ok());
      CHECK(!end->has_value());
      CHECK(s.max_lead() <= max_buffer);
      CHECK(s.produced() == static_cast<std::uint64_t>(items));
    }
  }
}

TEST_CASE("a stream whose consumer stops taking gives its pool thread back", "[streams][pool]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto pool = lbtest::spawn_blocking_pool(rt, "one", 1);
  auto produced = std::make_shared<std::atomic<int>>(0);
  auto s = rt.stream(
      pool, counting_generator{1'000'000, produced, std::make_shared<std::atomic<steady::rep>>(0)},
      8);
  REQUIRE(s.next(10s).ok());
  REQUIRE(lbtest::eventually([&] { return produced->load() >= 8; })); // the buffer was full
  // The consumer takes nothing more: the fill must leave the pool's only thread.
  auto other = pool.offload([] { return 42; });
  REQUIRE(other.wait_for(10s));
  CHECK(other.get().value() == 42);
  CHECK(drain_in_order(s, 1) == 1'000'000); // and the stream goes on afterwards
}

TEST_CASE("a fast stream shares its pool thread with other work", "[streams][pool]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto pool = lbtest::spawn_blocking_pool(rt, "one", 1);
  auto s = rt.stream(
      pool, [n = 0]() mutable -> std::optional<int> { return n++; }, 64);
  // A consumer that keeps up with its producer for as long as the other work waits: the fill
  // keeps the thread only for its turn, then the offload queued behind it runs.
  std::atomic<bool> done{false};
  std::atomic<int> taken{0};
  std::thread consumer{[&] {
    while (!done.load()) {
      auto item = s.next(10s);
      if (!item.ok() || !item->has_value() || **item != taken.load())
        return;
      ++taken;
    }
  }};
  REQUIRE(lbtest::eventually([&] { return taken.load() > 1000; }));
  auto other = pool.offload([&] { return taken.load(); });
  bool ran = other.wait_for(10s);
  done = true;
  consumer.join();
  REQUIRE(ran);
  CHECK(other.get().value() > 1000);
  CHECK(s.max_lead() <= 64);
}

TEST_CASE("a pushing producer waits for room: its lead is bounded too", "[streams]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  std::atomic<int> pushed{0};
  auto s = rt.stream_separate<int>(
      [&](stream_writer<int>& out) {
        for (int i = 0; i < 200; ++i) {
          out.push(i);
          ++pushed;
        }
      },
      4);
  int taken = 0;
  for (int round = 0; round < 20; ++round) {
    CHECK(lbtest::eventually([&] { return pushed.load() - taken == 4; }));
    auto item = s.next(10s);
    REQUIRE(item.ok());
    CHECK(**item == taken);
    ++taken;
    CHECK(pushed.load() - taken <= 4);
  }
  CHECK(s.max_lead() == 4);
  int rest = 0;
  for (;;) {
    auto item = s.next(10s);
    REQUIRE(item.ok());
    if (!item->has_value())
      break;
    ++rest;
  }
  CHECK(taken + rest == 200);
}

TEST_CASE("closing a stream stops a producer blocked on a full buffer, cleanup within 50 ms",
          "[streams][close]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  std::atomic<bool> blocked{false};
  auto s = rt.stream_separate<int>(
      [cleaned, &blocked](stream_writer<int>& out) {
        cleanup_probe probe{cleaned};
        for (int i = 0;; ++i) {
          if (i == 3)
            blocked = true; // the buffer (2) is full from here on: push waits
          out.push(i);
        }
      },
      2);
  REQUIRE(s.next(10s).ok());
  REQUIRE(lbtest::eventually([&] { return blocked.load(); }));
  auto closed_at = steady::now();
  s.close();
  REQUIRE(lbtest::eventually([&] { return cleaned->load() != 0; }, 2s));
  CHECK(steady::time_point{steady::duration{cleaned->load()}} - closed_at <= 50ms);
  CHECK(s.next(1s).is(errc::cancelled));
}

TEST_CASE("closing a pulled stream destroys its generator within 50 ms", "[streams][close]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto produced = std::make_shared<std::atomic<int>>(0);
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  auto s = rt.stream(counting_generator{1'000'000, produced, cleaned}, 16);
  REQUIRE(s.next(10s).ok());
  REQUIRE(lbtest::eventually([&] { return produced->load() >= 16; }));
  auto closed_at = steady::now();
  s.close();
  REQUIRE(lbtest::eventually([&] { return cleaned->load() != 0; }, 2s));
  CHECK(steady::time_point{steady::duration{cleaned->load()}} - closed_at <= 50ms);
  CHECK(produced->load() <= 17); // nothing more was produced after the close
}

TEST_CASE("a producer's exception reaches the consumer after the items before it",
          "[streams][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  int i = 0;
  auto pulled = rt.stream(
      [i]() mutable -> std::optional<int> {
        if (i == 5)
          throw std::runtime_error("sensor unplugged");
        return i++;
      },
      64);
  for (int k = 0; k < 5; ++k)
    CHECK(pulled.next(10s).value().value() == k);
  auto failure = pulled.next(10s);
  REQUIRE(failure.is(errc::worker_failed));
  CHECK(failure.error().message() == "the stream's producer threw: sensor unplugged");
  (void)i;

  auto pushed = rt.stream_separate<std::string>(
      [](stream_writer<std::string>& out) {
        out.push("a");
        out.push("b");
        throw std::runtime_error("disk full");
      },
      8);
  CHECK(pushed.next(10s).value().value() == "a");
  CHECK(pushed.next(10s).value().value() == "b");
  auto pushed_failure = pushed.next(10s);
  REQUIRE(pushed_failure.is(errc::worker_failed));
  CHECK(pushed_failure.error().message() == "the stream's producer threw: disk full");
}

TEST_CASE("next waits up to its timeout for a slow producer", "[streams]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto gate = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto open = std::make_shared<bool>(false);
  auto s = rt.stream(
      [gate, open, n = 0]() mutable -> std::optional<int> {
        std::unique_lock<std::mutex> lock{gate->first};
        gate->second.wait_for(lock, 10s, [&] { return *open; });
        if (n == 2)
          return std::nullopt;
        return n++;
      },
      4);
  CHECK(s.next(50ms).is(errc::timeout));
  {
    std::lock_guard<std::mutex> guard{gate->first};
    *open = true;
  }
  gate->second.notify_all();
  CHECK(s.next(10s).value().value() == 0);
  CHECK(s.next(10s).value().value() == 1);
  CHECK(!s.next(10s).value().has_value());
}

TEST_CASE("64 concurrent streams on a pool of 2 all complete", "[streams][load]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  actor_spec two;
  two.name = "two";
  two.kind = "blocking";
  two.count = 2;
  REQUIRE(rt.spawn(two).ok());
  auto pool = rt.pool("two").value();
  constexpr int streams = 64, items = 100;
  std::vector<loopbridge::stream<int>> ss;
  std::vector<std::shared_ptr<std::atomic<int>>> produced;
  for (int k = 0; k < streams; ++k) {
    produced.push_back(std::make_shared<std::atomic<int>>(0));
    ss.push_back(rt.stream(
        pool,
        counting_generator{items, produced.back(), std::make_shared<std::atomic<steady::rep>>(0)},
        4));
  }
  // Round robin: one item from each stream in turn, so every producer must make progress.
  std::vector<int> next(streams, 0);
  int open = streams;
  auto deadline = steady::now() + 60s;
  while (open > 0 && steady::now() < deadline) {
    for (int k = 0; k < streams; ++k) {
      if (next[k] < 0)
        continue;
      auto item = ss[k].next(10s);
      REQUIRE(item.ok());
      if (!item->has_value()) {
        CHECK(next[k] == items);
        next[k] = -1;
        --open;
        continue;
      }
      CHECK(**item == next[k]);
      ++next[k];
      CHECK(produced[k]->load() - next[k] <= 4);
    }
  }
  CHECK(open == 0);
  for (auto& s : ss)
    CHECK(s.max_lead() <= 4);
}

TEST_CASE("stopping the runtime closes open streams and ends their producers",
          "[streams][shutdown]") {
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  loopbridge::stream<int> pushed, pulled;
  {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    std::atomic<bool> started{false};
    pushed = rt.stream_separate<int>(
        [cleaned, &started](stream_writer<int>& out) {
          cleanup_probe probe{cleaned};
          started = true;
          for (int i = 0;; ++i)
            out.push(i);
        },
        2);
    pulled = rt.stream([n = 0]() mutable -> std::optional<int> { return n++; }, 2);
    REQUIRE(pulled.next(10s).ok());
    REQUIRE(lbtest::eventually([&] { return started.load(); }));
    auto t0 = steady::now();
    auto& report = rt.stop();
    CHECK(steady::now() - t0 < 3s);
    CHECK(report.stuck.empty());
  }
  CHECK(cleaned->load() != 0);
  CHECK(pushed.next(1s).is(errc::stopped));
  CHECK(pulled.next(1s).is(errc::stopped));
}

TEST_CASE("an actor consumes a stream as messages with credit, the lead stays bounded",
          "[streams][actors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto sink = lbtest::spawn_echo(rt, "sink", {{"delay", 1ms}});
  auto produced = std::make_shared<std::atomic<int>>(0);
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  auto s = rt.stream(counting_generator{200, produced, cleaned}, 8);
  auto delivery = rt.deliver(
      std::move(s), sink, [](int item) { return echo_request{item}; }, 4);
  auto done = delivery.get();
  REQUIRE(done.ok());
  CHECK(done->delivered == 200);
  CHECK(done->failed == 0);
  CHECK_FALSE(done->first_error);
  auto stats = sink.call(echo_stats_request{}, 5s);
  REQUIRE(stats.ok());
  CHECK(stats->received == 200);
  // Credit: at most 4 unanswered. The loop counts a request as held until the worker's report
  // reaches it, and reports travel apart from new submissions (the sink answers on a scheduler
  // thread, the pump submits from another): a few answered ones may still count, never more
  // than another credit's worth — bounded whatever the stream's length.
  for (auto& m : rt.metrics())
    if (m.name == "sink")
      CHECK(m.max_held <= 2 * 4);
  CHECK(produced->load() == 200);
  CHECK(lbtest::eventually([&] { return cleaned->load() != 0; }));
}

TEST_CASE("delivery counts failed requests and goes on, runtime stop ends it",
          "[streams][actors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto sink = lbtest::spawn_echo(rt, "sink", {{"fail_every", 10}});
  auto produced = std::make_shared<std::atomic<int>>(0);
  auto cleaned = std::make_shared<std::atomic<steady::rep>>(0);
  auto d = rt.deliver(
                 rt.stream(counting_generator{50, produced, cleaned}, 4), sink,
                 [](int item) { return echo_request{item}; }, 2)
               .get();
  REQUIRE(d.ok());
  CHECK(d->delivered == 45);
  CHECK(d->failed == 5);
  REQUIRE(d->first_error);
  CHECK(d->first_error->is(echo_errc::failed));
  // An endless stream: the runtime's stop closes it and ends the delivery.
  auto endless = rt.deliver(
      rt.stream(counting_generator{1 << 30, produced, cleaned}, 4), lbtest::spawn_echo(rt, "calm"),
      [](int item) { return echo_request{item}; }, 2);
  REQUIRE(lbtest::eventually([&] { return produced->load() > 1000; }));
  rt.stop();
  REQUIRE(endless.wait_for(5s));
}
