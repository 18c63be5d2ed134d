// bench/offload: (a) offloads of an empty function, pipelined from one host thread with 1024
// outstanding, beside a raw thread pool with a mutex + condition variable queue of
// std::packaged_task (std::future per task) and Python's concurrent.futures.ThreadPoolExecutor;
// (b) a pulled stream of 1M ints with max_buffer 64 beside a producer thread feeding a bounded
// mutex + condition variable queue, in one run.
//
// usage: offload [--quick]
//        offload --profile [offload]   # only loopbridge's streams (offloads), 10 s, for perf
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
namespace lbb = loopbridge::bench;

namespace {

constexpr std::size_t window = 1024;

/// The default blocking pool's size (see runtime::offload): the raw pool gets as many threads.
unsigned pool_threads() {
  return std::min(32u, std::max(1u, std::thread::hardware_concurrency()) + 4u);
}

/// A typical thread pool: N threads taking std::packaged_task from a mutex-protected deque,
/// woken by a condition variable; each submit returns the task's std::future.
class raw_pool {
public:
  explicit raw_pool(unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~raw_pool() {
    {
      std::lock_guard<std::mutex> g{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  template <class F>
  std::future<void> submit(F fn) {
    std::packaged_task<void()> task{std::move(fn)};
    auto f = task.get_future();
    {
      std::lock_guard<std::mutex> g{mtx_};
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return f;
  }

private:
  void work() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lk{mtx_};
        cv_.wait(lk, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty())
          return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

/// A contender's rate and the process's CPU time per item over it (every thread).
struct measured {
  double per_s = 0;
  double cpu_us = 0;
};

/// Calls per second of `submit()` with `window` futures outstanding from this thread.
template <class Submit>
measured pipelined(Submit submit, std::size_t total) {
  lbb::cpu_meter cpu;
  using future_t = decltype(submit());
  std::deque<future_t> inflight;
  std::size_t sent = 0;
  auto t0 = lbb::clock::now();
  while (sent < total && inflight.size() < window) {
    inflight.push_back(submit());
    ++sent;
  }
  while (!inflight.empty()) {
    if constexpr (std::is_same_v<future_t, std::future<void>>) {
      inflight.front().get();
    } else if (!inflight.front().get()) {
      std::fprintf(stderr, "  an offload failed\n");
      std::exit(1);
    }
    inflight.pop_front();
    if (sent < total) {
      inflight.push_back(submit());
      ++sent;
    }
  }
  auto n = static_cast<double>(total);
  return {n / lbb::seconds_since(t0), cpu.process_s() * 1e6 / n};
}

/// A bounded queue of ints: a producer thread waits while it holds `cap` items.
class bounded_queue {
public:
  explicit bounded_queue(std::size_t cap) : cap_(cap) {}
  void push(std::optional<int> v) {
    std::unique_lock<std::mutex> lk{mtx_};
    not_full_.wait(lk, [&] { return items_.size() < cap_; });
    items_.push_back(v);
    max_size_ = std::max(max_size_, items_.size());
    lk.unlock();
    not_empty_.notify_one();
  }
  std::optional<int> pop() {
    std::unique_lock<std::mutex> lk{mtx_};
    not_empty_.wait(lk, [&] { return !items_.empty(); });
    auto v = items_.front();
    items_.pop_front();
    lk.unlock();
    not_full_.notify_one();
    return v;
  }
  std::size_t max_size() const { return max_size_; }

private:
  std::size_t cap_;
  std::mutex mtx_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::optional<int>> items_;
  std::size_t max_size_ = 0;
};

struct stream_result {
  double items_per_s;
  std::size_t max_lead;
  double cpu_us; // the process's CPU time per item, every thread
};

stream_result loopbridge_stream(runtime& rt, int items, std::size_t max_buffer) {
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto s = rt.stream(
      [n = 0, items]() mutable -> std::optional<int> {
        if (n == items)
          return std::nullopt;
        return n++;
      },
      max_buffer);
  int expect = 0;
  for (;;) {
    auto r = s.next(30s);
    if (!r) {
      std::fprintf(stderr, "  stream failed: %s\n", r.error().message().c_str());
      std::exit(1);
    }
    if (!r->has_value())
      break;
    if (**r != expect++)
      std::abort();
  }
  if (expect != items)
    std::abort();
  auto n = static_cast<double>(items);
  return {n / lbb::seconds_since(t0), s.max_lead(), cpu.process_s() * 1e6 / n};
}

stream_result queue_stream(int items, std::size_t max_buffer) {
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  bounded_queue q{max_buffer};
  std::thread producer{[&] {
    for (int n = 0; n < items; ++n)
      q.push(n);
    q.push(std::nullopt);
  }};
  int expect = 0;
  while (auto v = q.pop())
    if (*v != expect++)
      std::abort();
  producer.join();
  if (expect != items)
    std::abort();
  auto n = static_cast<double>(items);
  return {n / lbb::seconds_since(t0), q.max_size(), cpu.process_s() * 1e6 / n};
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 3 : 7;
  std::size_t total = quick ? 200000 : 1000000;
  std::size_t py_total = quick ? 50000 : 200000;
  constexpr int stream_items = 1'000'000;
  constexpr std::size_t max_buffer = 64;
  unsigned threads = pool_threads();
  if (argc > 1 && std::string{argv[1]} == "--profile") {
    // Only loopbridge's streams (or, with `offload`, its offloads), for 10 s: a steady load
    // to profile.
    bool offloads = argc > 2 && std::string{argv[2]} == "offload";
    runtime rt{actors::builtin_kinds()};
    auto t0 = lbb::clock::now();
    int rounds = 0;
    for (; lbb::seconds_since(t0) < 10; ++rounds) {
      if (offloads)
        pipelined([&] { return rt.offload([] {}); }, total);
      else
        loopbridge_stream(rt, stream_items, max_buffer);
    }
    std::printf("profile: %d rounds of %zu %s in %.1f s\n", rounds,
                offloads ? total : static_cast<std::size_t>(stream_items),
                offloads ? "offloads" : "stream items", lbb::seconds_since(t0));
    return 0;
  }
  std::printf("offload: %d runs; %zu empty offloads per case, %zu outstanding, pools of %u "
              "threads; streams of %d ints, max_buffer %zu%s\n",
              runs, total, window, threads, stream_items, max_buffer, quick ? " (quick)" : "");

  std::vector<measured> lb_off, raw_off, py_off, lb_str, q_str;
  std::size_t lb_lead = 0, q_lead = 0;
  runtime rt{actors::builtin_kinds()};
  // Warm-up: spawns the default pool and starts its threads.
  pipelined([&] { return rt.offload([] {}); }, 20000);
  {
    raw_pool warm{threads};
    pipelined([&] { return warm.submit([] {}); }, 20000);
  }
  for (int run = 0; run < runs; ++run) {
    auto turn = static_cast<std::size_t>(run);
    {
      raw_pool pool{threads};
      lbb::in_turns(
          turn, [&] { lb_off.push_back(pipelined([&] { return rt.offload([] {}); }, total)); },
          [&] { raw_off.push_back(pipelined([&] { return pool.submit([] {}); }, total)); });
    }
    auto py = lbb::run_python(lbb::bench_dir() + "/baselines/offload_executor.py",
                              std::to_string(py_total) + " " + std::to_string(window) + " " +
                                  std::to_string(threads));
    bool py_ok = py.count("offloads_per_s") && py.count("cpu_us_per_offload");
    if (py_ok)
      py_off.push_back({py["offloads_per_s"], py["cpu_us_per_offload"]});
    stream_result ls{}, qs{};
    lbb::in_turns(
        turn, [&] { ls = loopbridge_stream(rt, stream_items, max_buffer); },
        [&] { qs = queue_stream(stream_items, max_buffer); });
    lb_str.push_back({ls.items_per_s, ls.cpu_us});
    q_str.push_back({qs.items_per_s, qs.cpu_us});
    lb_lead = std::max(lb_lead, ls.max_lead);
    q_lead = std::max(q_lead, qs.max_lead);
    std::printf("run %d: offload loopbridge %.0f/s (%.2f us CPU each), raw pool %.0f/s (%.2f us), "
                "Python %s; stream loopbridge %.0f items/s (max lead %zu, %.3f us CPU each), "
                "bounded queue %.0f items/s (%.3f us)\n",
                run + 1, lb_off.back().per_s, lb_off.back().cpu_us, raw_off.back().per_s,
                raw_off.back().cpu_us,
                py_ok ? (std::to_string(static_cast<long>(py_off.back().per_s)) + "/s").c_str()
                      : "unavailable",
                ls.items_per_s, ls.max_lead, ls.cpu_us, qs.items_per_s, qs.cpu_us);
    std::fflush(stdout);
  }

  auto rate_m = [](const std::vector<measured>& xs) {
    return lbb::median_of(xs, &measured::per_s);
  };
  auto cpu_m = [](const std::vector<measured>& xs) {
    return lbb::median_of(xs, &measured::cpu_us);
  };
  double lb_m = rate_m(lb_off), raw_m = rate_m(raw_off), py_m = rate_m(py_off);
  double lbs_m = rate_m(lb_str), qs_m = rate_m(q_str);
  double lb_cpu = cpu_m(lb_off), raw_cpu = cpu_m(raw_off), py_cpu = cpu_m(py_off);
  double lbs_cpu = cpu_m(lb_str), qs_cpu = cpu_m(q_str);
  std::printf("\n%-60s %12s %12s\n", "empty offloads, 1 host thread, 1024 outstanding",
              "offloads/s", "CPU us each");
  std::printf("%-60s %12.0f %12.2f\n", "loopbridge rt.offload", lb_m, lb_cpu);
  std::printf("%-60s %12.0f %12.2f\n",
              "raw pool: mutex+condvar deque of packaged_task, std::future", raw_m, raw_cpu);
  if (!py_off.empty())
    std::printf("%-60s %12.0f %12.2f\n", "Python concurrent.futures.ThreadPoolExecutor", py_m,
                py_cpu);
  else
    std::printf("Python ThreadPoolExecutor baseline unavailable (/usr/bin/python3)\n");
  std::printf("\n%-60s %12s %12s %9s\n", "stream of 1M ints, max_buffer 64", "items/s",
              "CPU us each", "max lead");
  std::printf("%-60s %12.0f %12.3f %9zu\n", "loopbridge rt.stream (generator pulled on the pool)",
              lbs_m, lbs_cpu, lb_lead);
  std::printf("%-60s %12.0f %12.3f %9zu\n", "producer thread + bounded mutex+condvar queue", qs_m,
              qs_cpu, q_lead);

  lbb::report rep;
  rep.figure("offload_loopbridge", lb_m, "offloads/s");
  rep.figure("offload_raw_pool", raw_m, "offloads/s");
  rep.figure("offload_loopbridge_cpu", lb_cpu, "us/offload");
  rep.figure("offload_raw_pool_cpu", raw_cpu, "us/offload");
  if (!py_off.empty()) {
    rep.figure("offload_python_executor", py_m, "offloads/s");
    rep.figure("offload_python_executor_cpu", py_cpu, "us/offload");
  }
  rep.figure("stream_loopbridge", lbs_m, "items/s");
  rep.figure("stream_max_lead_loopbridge", static_cast<double>(lb_lead), "items");
  rep.figure("stream_bounded_queue", qs_m, "items/s");
  rep.figure("stream_loopbridge_cpu", lbs_cpu, "us/item");
  rep.figure("stream_bounded_queue_cpu", qs_cpu, "us/item");
  rep.ratio("offload_loopbridge_over_raw_pool", lb_m / raw_m);
  rep.ratio("offload_loopbridge_over_raw_pool_by_cpu", raw_cpu / lb_cpu);
  if (!py_off.empty()) {
    rep.ratio("offload_loopbridge_over_python", lb_m / py_m);
    rep.ratio("offload_loopbridge_over_python_by_cpu", py_cpu / lb_cpu);
  }
  rep.ratio("stream_loopbridge_over_bounded_queue", lbs_m / qs_m);
  rep.ratio("stream_loopbridge_over_bounded_queue_by_cpu", qs_cpu / lbs_cpu);
  // Each bar holds at the median of the runs, and by CPU per item at the bar minus 0.05.
  rep.require("offload >= 500k empty offloads/s from one host thread", lb_m >= 500000);
  rep.require("offload >= 2x the raw pool (by CPU >= 1.95x)",
              lb_m / raw_m >= 2.0 && raw_cpu / lb_cpu >= 1.95);
  rep.require("offload >= 3x Python's executor (by CPU >= 2.95x)",
              !py_off.empty() && lb_m / py_m >= 3.0 && py_cpu / lb_cpu >= 2.95);
  rep.require("stream >= 0.9x a bounded queue between two threads (by CPU >= 0.85x)",
              lbs_m / qs_m >= 0.9 && qs_cpu / lbs_cpu >= 0.85);
  rep.require("stream max lead <= max_buffer (64)", lb_lead <= max_buffer);
  rep.print();
  return 0;
}
