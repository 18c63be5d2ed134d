// bench/offload: (a) offloads of an empty function, pipelined from one host thread with 1024
// outstanding, beside a raw thread pool with a mutex + condition variable queue of
// std::packaged_task (std::future per task) and Python's concurrent.futures.ThreadPoolExecutor;
// (b) a pulled stream of 1M ints with max_buffer 64 beside a producer thread feeding a bounded
// mutex + condition variable queue, in one run.
//
// usage: offload [--quick]
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

/// Calls per second of `submit()` with `window` futures outstanding from this thread.
template <class Submit>
double pipelined(Submit submit, std::size_t total) {
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
  return static_cast<double>(total) / lbb::seconds_since(t0);
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
};

stream_result loopbridge_stream(runtime& rt, int items, std::size_t max_buffer) {
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
  return {static_cast<double>(items) / lbb::seconds_since(t0), s.max_lead()};
}

stream_result queue_stream(int items, std::size_t max_buffer) {
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
  return {static_cast<double>(items) / lbb::seconds_since(t0), q.max_size()};
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
  std::printf("offload: %d runs; %zu empty offloads per case, %zu outstanding, pools of %u "
              "threads; streams of %d ints, max_buffer %zu%s\n",
              runs, total, window, threads, stream_items, max_buffer, quick ? " (quick)" : "");

  std::vector<double> lb_off, raw_off, py_off, lb_str, q_str;
  std::size_t lb_lead = 0, q_lead = 0;
  runtime rt{actors::builtin_kinds()};
  // Warm-up: spawns the default pool and starts its threads.
  pipelined([&] { return rt.offload([] {}); }, 20000);
  {
    raw_pool warm{threads};
    pipelined([&] { return warm.submit([] {}); }, 20000);
  }
  for (int run = 0; run < runs; ++run) {
    {
      raw_pool pool{threads};
      lbb::in_turns(
          static_cast<std::size_t>(run),
          [&] { lb_off.push_back(pipelined([&] { return rt.offload([] {}); }, total)); },
          [&] { raw_off.push_back(pipelined([&] { return pool.submit([] {}); }, total)); });
    }
    auto py = lbb::run_python(std::string{LOOPBRIDGE_BENCH_DIR} + "/baselines/offload_executor.py",
                              std::to_string(py_total) + " " + std::to_string(window) + " " +
                                  std::to_string(threads));
    if (py.count("offloads_per_s"))
      py_off.push_back(py["offloads_per_s"]);
    auto ls = loopbridge_stream(rt, stream_items, max_buffer);
    auto qs = queue_stream(stream_items, max_buffer);
    lb_str.push_back(ls.items_per_s);
    q_str.push_back(qs.items_per_s);
    lb_lead = std::max(lb_lead, ls.max_lead);
    q_lead = std::max(q_lead, qs.max_lead);
    std::printf("run %d: offload loopbridge %.0f/s, raw pool %.0f/s, Python %s; stream "
                "loopbridge %.0f items/s (max lead %zu), bounded queue %.0f items/s\n",
                run + 1, lb_off.back(), raw_off.back(),
                py.count("offloads_per_s")
                    ? std::to_string(static_cast<long>(py_off.back())).c_str()
                    : "unavailable",
                ls.items_per_s, ls.max_lead, qs.items_per_s);
    std::fflush(stdout);
  }

  double lb_m = lbb::median(lb_off), raw_m = lbb::median(raw_off), py_m = lbb::median(py_off);
  double lbs_m = lbb::median(lb_str), qs_m = lbb::median(q_str);
  std::printf("\n%-60s %12s\n", "empty offloads, 1 host thread, 1024 outstanding", "offloads/s");
  std::printf("%-60s %12.0f\n", "loopbridge rt.offload", lb_m);
  std::printf("%-60s %12.0f\n", "raw pool: mutex+condvar deque of packaged_task, std::future",
              raw_m);
  if (!py_off.empty())
    std::printf("%-60s %12.0f\n", "Python concurrent.futures.ThreadPoolExecutor", py_m);
  else
    std::printf("Python ThreadPoolExecutor baseline unavailable (/usr/bin/python3)\n");
  std::printf("\n%-60s %12s %9s\n", "stream of 1M ints, max_buffer 64", "items/s", "max lead");
  std::printf("%-60s %12.0f %9zu\n", "loopbridge rt.stream (generator pulled on the pool)", lbs_m,
              lb_lead);
  std::printf("%-60s %12.0f %9zu\n", "producer thread + bounded mutex+condvar queue", qs_m, q_lead);

  lbb::report rep;
  rep.figure("offload_loopbridge", lb_m, "offloads/s");
  rep.figure("offload_raw_pool", raw_m, "offloads/s");
  if (!py_off.empty())
    rep.figure("offload_python_executor", py_m, "offloads/s");
  rep.figure("stream_loopbridge", lbs_m, "items/s");
  rep.figure("stream_max_lead_loopbridge", static_cast<double>(lb_lead), "items");
  rep.figure("stream_bounded_queue", qs_m, "items/s");
  rep.ratio("offload_loopbridge_over_raw_pool", lb_m / raw_m);
  if (!py_off.empty())
    rep.ratio("offload_loopbridge_over_python", lb_m / py_m);
  rep.ratio("stream_loopbridge_over_bounded_queue", lbs_m / qs_m);
  rep.require("offload >= 200k empty offloads/s from one host thread", lb_m >= 200000);
  rep.require("stream max lead <= max_buffer (64)", lb_lead <= max_buffer);
  rep.print();
  return 0;
}
