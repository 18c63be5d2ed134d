// Threads the runtime creates carry readable names; logs have levels and are quiet by default.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "loopbridge/detail/spin_policy.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {
std::set<std::string> thread_names() {
  std::set<std::string> names;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir)) {
      if (e->d_name[0] == '.')
        continue;
      std::ifstream comm{std::string{"/proc/self/task/"} + e->d_name + "/comm"};
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    closedir(dir);
  }
  return names;
}
/// Voluntary context switches (times a thread went to sleep) of this process's threads whose
/// name starts with `prefix`, by thread id.
std::map<std::string, long> sleeps(const std::string& prefix) {
  std::map<std::string, long> out;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir)) {
      if (e->d_name[0] == '.')
        continue;
      std::string task = std::string{"/proc/self/task/"} + e->d_name;
      std::ifstream comm{task + "/comm"}, status{task + "/status"};
      std::string name, line;
      std::getline(comm, name);
      if (name.rfind(prefix, 0) != 0)
        continue;
      while (std::getline(status, line))
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
          out[name + "/" + e->d_name] = std::stol(line.substr(24));
    }
    closedir(dir);
  }
  return out;
}

/// Whether, over one second, no thread named `prefix*` woke more than `most` times.
bool quiet_for_a_second(const std::string& prefix, long most) {
  auto before = sleeps(prefix);
  std::this_thread::sleep_for(1s); // the measurement window itself, not a wait for an event
  auto after = sleeps(prefix);
  bool quiet = !after.empty();
  for (auto& [thread, n] : after) {
    UNSCOPED_INFO(thread << " woke " << n - before[thread] << " times in one second");
    quiet = quiet && n - before[thread] <= most;
  }
  return quiet;
}
} // namespace

TEST_CASE("an idle runtime's threads stay asleep", "[threads]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "e");
  REQUIRE(rt.spawn("f", "fetcher", {}).ok());
  REQUIRE(rt.spawn("pool", "blocking", {}).ok());
  auto pool = rt.pool("pool").value();
  for (int i = 0; i < 100; ++i) { // every thread has had work, then the runtime goes idle
    REQUIRE(h.call(echo_request{i}, 5s).ok());
    REQUIRE(pool.offload([] { return 0; }).get().ok()); // the pool's threads spin after each
  }
  // Idle scheduler threads, the loop, the clock, the stall detector and a blocking pool's
  // threads sleep until there is work (after a short adaptive spin); a fetcher's I/O thread
  // wakes once a second.
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.sched.", 2); }, 5s));
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.loop", 2); }, 5s));
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.clock", 2); }, 5s));
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.watch", 2); }, 5s));
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.pool.", 2); }, 5s));
  CHECK(lbtest::eventually([] { return quiet_for_a_second("lb.fetch.f", 3); }, 5s));
}

TEST_CASE("a steady stream of round trips wakes the loop at most once per report delay",
          "[threads]") {
  // Round trips to a one-instance dedicated actor go past the loop, and their done reports
  // and notes do not need it at once: a loop thread that slept until woken would be woken by
  // each (one a request here, every 300 µs or more). It sleeps with a timer of
  // `report_delay` (1 ms) instead while they come this densely, and takes them together.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "e", {{"block", 300us}});
  for (int i = 0; i < 20; ++i)
    REQUIRE(h.call(echo_request{i}, 5s).ok());
  constexpr long calls = 1000;
  auto before = sleeps("lb.loop");
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i)
    REQUIRE(h.call(echo_request{i}, 5s).ok());
  auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  auto after = sleeps("lb.loop");
  REQUIRE(after.size() == 1);
  long woke = after.begin()->second - before[after.begin()->first];
  INFO("the loop slept " << woke << " times in " << elapsed_ms << " ms of " << calls
                         << " round trips");
  // A slower machine makes the stream thinner, never the bound tighter: at most one timed
  // sleep per millisecond, one wake-up per 32 quiet reports or notes, and a few others.
  CHECK(woke <= elapsed_ms + calls / 32 + 50);
  CHECK(lbtest::eventually([&] { return rt.metrics("e")->completed == calls + 20; }));
}

TEST_CASE("a spinning thread's back-off grows with the time its yield lost", "[threads][spin]") {
  using detail::spin_policy;
  CHECK(spin_policy::backoff_for(10us) == spin_policy::backoff_min);
  CHECK(spin_policy::backoff_for(100us) == 100us * spin_policy::backoff_ratio);
  CHECK(spin_policy::backoff_for(1ms) == 1ms * spin_policy::backoff_ratio);
  CHECK(spin_policy::backoff_for(5ms) == spin_policy::backoff_max);
}

TEST_CASE("a spinning thread that loses its core to a busy one stops spinning", "[threads][spin]") {
  // This thread and a busy one share one CPU: the spin's first yield hands the core to the busy
  // thread for its time slice. Without the back-off the spin would run until its far deadline.
  cpu_set_t original;
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof original, &original) == 0);
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &original))
    ++cpu;
  REQUIRE(cpu < CPU_SETSIZE);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  std::atomic<bool> running{false}, done{false};
  std::thread busy{[&] {
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    running = true;
    auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!done.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < give_up) {
    }
  }};
  REQUIRE(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0);
  while (!running)
    std::this_thread::yield();
  std::size_t asked = 0;
  bool found = detail::spin_policy::spin_until(std::chrono::steady_clock::now() + 60s, [&] {
    ++asked;
    return false;
  });
  bool backing_off = detail::spin_policy::backing_off();
  done = true;
  busy.join();
  pthread_setaffinity_np(pthread_self(), sizeof original, &original);
  CHECK_FALSE(found);
  CHECK(asked > 64); // it did spin (past the pause steps) before its yield lost the core
  CHECK(backing_off);
}

TEST_CASE("runtime threads are named", "[threads]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "sleepy", {{"dedicated", true}});
  REQUIRE(h.call(echo_request{1}, 5s).ok());
  // Scheduler threads name themselves as they start: wait for that, with a deadline.
  auto all_named = [] {
    auto names = thread_names();
    return names.count("lb.loop") == 1 && names.count("lb.sched.0") == 1 &&
           names.count("lb.clock") == 1 && names.count("lb.sleepy.0") == 1;
  };
  CHECK(lbtest::eventually(all_named));
}

TEST_CASE("stopping the runtime joins every thread it started", "[threads]") {
  auto before = thread_names();
  {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    auto h = lbtest::spawn_echo(rt, "sleepy", {{"dedicated", true}});
    REQUIRE(h.call(echo_request{1}, 5s).ok());
  }
  auto after = thread_names();
  for (auto& n : after)
    CHECK((before.count(n) == 1 || n.rfind("lb.", 0) != 0));
}

namespace {
/// Mappings of this process's address space (/proc/self/maps): each thread stack not yet
/// released is one more (its guard page another).
std::size_t mappings() {
  std::ifstream maps{"/proc/self/maps"};
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    ++n;
  return n;
}
} // namespace

TEST_CASE("a runtime releases the threads of one-shot tasks as it goes, not only at its stop",
          "[threads]") {
  // Each offload_separate runs on a thread of its own that ends with the task. 300 of them, one
  // after the other: a finished thread's stack must be released while the runtime lives (it
  // used to stay until stop(): ~19 KB of memory and two mappings per task for good).
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.offload_separate([](const cancel_token&) { return 0; }).get().ok()); // warm
  auto before = mappings();
  for (int i = 0; i < 300; ++i) {
    auto r = rt.offload_separate([i](const cancel_token&) { return i; }).get();
    REQUIRE(r.ok());
    REQUIRE(*r == i);
  }
  if (lbtest::thread_sanitizer)
    WARN("mappings not counted under ThreadSanitizer, which maps memory per thread itself");
  else
    CHECK(mappings() < before + 60); // ~600 more if no finished thread were joined
}

TEST_CASE("log levels parse and default to warning", "[log]") {
  log_level l;
  REQUIRE(parse_log_level("debug", l));
  CHECK(l == log_level::debug);
  CHECK_FALSE(parse_log_level("loud", l));
  CHECK(std::string{to_string(log_level::warning)} == "warning");
}
