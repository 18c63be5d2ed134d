// bench/host_roundtrip: the bridge's hot path, host thread -> event loop -> echo -> host thread,
// side by side with raw CAF (scoped_actor request/receive to a scheduled echo, same scheduler
// settings) and the seeds' Python EventThread (run_coroutine_threadsafe), in one run.
//
// usage: host_roundtrip [--quick]
#include <caf/all.hpp>

#include <cinttypes>
#include <cstdio>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/groups.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using loopbridge::actors::echo;
using loopbridge::actors::echo_reply;
using loopbridge::actors::echo_request;
namespace lbb = loopbridge::bench;

namespace {

struct latency {
  double median_us;
  double p99_us;
};

latency measure_rtt(const std::function<void(std::int64_t)>& roundtrip, int n) {
  for (int i = 0; i < std::min(n / 10, 2000); ++i)
    roundtrip(i); // warm-up
  std::vector<double> samples;
  samples.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = lbb::clock::now();
    roundtrip(i);
    samples.push_back(std::chrono::duration<double, std::micro>(lbb::clock::now() - t0).count());
  }
  return {lbb::median(samples), lbb::quantile(samples, 0.99)};
}

/// Requests per second with `window` requests outstanding per host thread, `total` per thread.
double pipelined(const actor_handle<echo>& h, int threads, std::size_t window, std::size_t total) {
  std::vector<std::thread> ts;
  std::atomic<std::size_t> errors{0};
  auto t0 = lbb::clock::now();
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      std::deque<future<echo_reply>> inflight;
      std::size_t sent = 0;
      while (sent < total && inflight.size() < window) {
        inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent)}));
        ++sent;
      }
      while (!inflight.empty()) {
        auto r = inflight.front().get();
        inflight.pop_front();
        if (!r)
          ++errors;
        if (sent < total) {
          inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent)}));
          ++sent;
        }
      }
    });
  for (auto& t : ts)
    t.join();
  auto secs = lbb::seconds_since(t0);
  if (errors > 0)
    std::fprintf(stderr, "  %zu requests failed\n", errors.load());
  return static_cast<double>(threads * total) / secs;
}

/// Submit, cancel, get per second from one host thread, against an echo that would hold every
/// request for a minute. Most cancels win before the loop dispatches the request; the rest
/// reach the worker, which drops its timer.
double submit_cancel(const actor_handle<echo>& h, std::size_t n) {
  auto t0 = lbb::clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto f = h.submit(echo_request{static_cast<std::int64_t>(i)});
    f.cancel();
    if (!f.get().is(errc::cancelled))
      std::abort();
  }
  return static_cast<double>(n) / lbb::seconds_since(t0);
}

/// Milliseconds from the first submit to the last completion, `n` requests through
/// as_completed (one host thread).
double as_completed_ms(const actor_handle<echo>& h, std::size_t n) {
  auto t0 = lbb::clock::now();
  std::vector<future<echo_reply>> fs;
  fs.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    fs.push_back(h.submit(echo_request{static_cast<std::int64_t>(i)}));
  as_completed<echo_reply> done{std::move(fs)};
  while (done.remaining() > 0)
    if (auto c = done.next(std::chrono::seconds(30)); !c || !c->value)
      std::abort();
  return std::chrono::duration<double, std::milli>(lbb::clock::now() - t0).count();
}

latency raw_caf_rtt(int n) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto echo_actor = sys.spawn([]() -> caf::behavior { return {[](std::int64_t x) { return x; }}; });
  latency result;
  {
    caf::scoped_actor self{sys};
    result = measure_rtt(
        [&](std::int64_t i) {
          self->request(echo_actor, caf::infinite, i)
              .receive([](std::int64_t) {}, [](caf::error&) { std::abort(); });
        },
        n);
  }
  caf::anon_send_exit(echo_actor, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 3 : 5;
  int rtt_n = quick ? 3000 : 20000;
  std::size_t total = quick ? 200000 : 1000000;
  std::printf("host_roundtrip: %d runs, %d round trips, %zu pipelined requests per case%s\n", runs,
              rtt_n, total, quick ? " (quick)" : "");

  std::vector<double> lb_med, lb_p99, nospin_med, caf_med, caf_p99, tp1_1k, tp1_100k, tp4_1k,
      tp4_100k, cancel_rate, asc_ms;
  for (int run = 0; run < runs; ++run) {
    {
      runtime rt{actors::builtin_kinds()};
      rt.spawn("echo", "echo").value();
      auto h = rt.actor<echo>("echo").value();
      auto l = measure_rtt(
          [&](std::int64_t i) {
            if (!h.submit(echo_request{i}).get())
              std::abort();
          },
          rtt_n);
      lb_med.push_back(l.median_us);
      lb_p99.push_back(l.p99_us);
      tp1_1k.push_back(pipelined(h, 1, 1000, total));
      tp1_100k.push_back(pipelined(h, 1, 100000, total));
      tp4_1k.push_back(pipelined(h, 4, 250, total / 4));
      tp4_100k.push_back(pipelined(h, 4, 25000, total / 4));
      asc_ms.push_back(as_completed_ms(h, 10000));
      rt.spawn("holder", "echo", {{"delay", std::chrono::seconds(60)}}).value();
      cancel_rate.push_back(submit_cancel(rt.actor<echo>("holder").value(), total / 10));
    }
    {
      // The same round trip with the host-side spin turned off: what the spin policy buys.
      runtime_options no_spin;
      no_spin.host_spin = std::chrono::nanoseconds::zero();
      runtime rt{actors::builtin_kinds(), no_spin};
      rt.spawn("echo", "echo").value();
      auto h = rt.actor<echo>("echo").value();
      nospin_med.push_back(measure_rtt(
                               [&](std::int64_t i) {
                                 if (!h.submit(echo_request{i}).get())
                                   std::abort();
                               },
                               rtt_n)
                               .median_us);
    }
    auto c = raw_caf_rtt(rtt_n);
    caf_med.push_back(c.median_us);
    caf_p99.push_back(c.p99_us);
    std::printf(
        "run %d: loopbridge rtt %.1f us (p99 %.1f; %.1f without host spin), raw CAF rtt %.1f us "
        "(p99 %.1f); pipelined 1 thread %.0f/s (1k) %.0f/s (100k), 4 threads %.0f/s (1k) "
        "%.0f/s (100k)\n",
        run + 1, lb_med.back(), lb_p99.back(), nospin_med.back(), caf_med.back(), caf_p99.back(),
        tp1_1k.back(), tp1_100k.back(), tp4_1k.back(), tp4_100k.back());
    std::fflush(stdout);
  }

  auto py = lbb::run_python(lbb::bench_dir() + "/baselines/event_thread.py",
                            quick ? "2000 20000" : "10000 100000");
  double py_med = py.count("rtt_median_us") ? py["rtt_median_us"] : 0;

  lbb::report rep;
  double rtt = lbb::median(lb_med), caf_rtt = lbb::median(caf_med);
  double t1k = lbb::median(tp1_1k), t100k = lbb::median(tp1_100k);
  std::printf("\n%-44s %12s %12s\n", "round trip, one outstanding", "median", "p99");
  std::printf("%-44s %10.1f us %10.1f us\n", "loopbridge host -> loop -> echo -> host", rtt,
              lbb::median(lb_p99));
  std::printf("%-44s %10.1f us\n", "loopbridge, host spin off (park at once)",
              lbb::median(nospin_med));
  std::printf("%-44s %10.1f us %10.1f us\n", "raw CAF scoped_actor request/receive", caf_rtt,
              lbb::median(caf_p99));
  if (py_med > 0)
    std::printf("%-44s %10.1f us %10.1f us   (known range here: ~100 us)\n",
                "Python EventThread run_coroutine_threadsafe", py_med, py["rtt_p99_us"]);
  else
    std::printf("Python EventThread baseline unavailable (/usr/bin/python3)\n");
  std::printf("\n%-44s %12s %12s\n", "pipelined requests/s", "1k outst.", "100k outst.");
  std::printf("%-44s %12.0f %12.0f\n", "loopbridge, 1 host thread", t1k, t100k);
  std::printf("%-44s %12.0f %12.0f\n", "loopbridge, 4 host threads", lbb::median(tp4_1k),
              lbb::median(tp4_100k));
  if (py.count("pipelined_per_s"))
    std::printf("%-44s %12.0f\n", "Python EventThread, 1 host thread", py["pipelined_per_s"]);
  std::printf("\n%-44s %12.0f /s\n", "submit + cancel + get", lbb::median(cancel_rate));
  std::printf("%-44s %12.1f ms (%.0f /s)\n", "as_completed over 10k futures", lbb::median(asc_ms),
              10000.0 / (lbb::median(asc_ms) / 1000.0));

  rep.figure("rtt_median_loopbridge", rtt, "us");
  rep.figure("rtt_p99_loopbridge", lbb::median(lb_p99), "us");
  rep.figure("rtt_median_loopbridge_no_host_spin", lbb::median(nospin_med), "us");
  rep.figure("rtt_median_raw_caf", caf_rtt, "us");
  rep.figure("rtt_p99_raw_caf", lbb::median(caf_p99), "us");
  if (py_med > 0)
    rep.figure("rtt_median_python_event_thread", py_med, "us");
  rep.figure("pipelined_1thread_1k", t1k, "req/s");
  rep.figure("pipelined_1thread_100k", t100k, "req/s");
  rep.figure("pipelined_4threads_1k", lbb::median(tp4_1k), "req/s");
  rep.figure("pipelined_4threads_100k", lbb::median(tp4_100k), "req/s");
  if (py.count("pipelined_per_s"))
    rep.figure("pipelined_python_event_thread", py["pipelined_per_s"], "req/s");
  rep.figure("submit_cancel", lbb::median(cancel_rate), "req/s");
  rep.figure("as_completed_10k", lbb::median(asc_ms), "ms");
  rep.ratio("rtt_raw_caf_over_loopbridge", caf_rtt / rtt);
  if (py_med > 0)
    rep.ratio("rtt_python_over_loopbridge", py_med / rtt);
  rep.ratio("pipelined_100k_over_1k", t100k / t1k);
  rep.ratio("rtt_no_host_spin_over_host_spin", lbb::median(nospin_med) / rtt);
  rep.require("round trip >= 5x faster than raw scoped_actor", caf_rtt / rtt >= 5);
  rep.require("round trip >= 6x faster than the Python EventThread", py_med / rtt >= 6);
  rep.require("pipelined >= 500k requests/s with one host thread", t1k >= 500000);
  rep.require("throughput with 100k outstanding >= 0.7x that with 1k", t100k / t1k >= 0.7);
  rep.print();
  return 0;
}
