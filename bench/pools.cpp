// bench/pools: a 4-instance echo pool at saturation beside a single echo, and a two-stage route
// beside two sequential host calls per item, in one run.
//
// usage: pools [--quick]
#include <cstdio>
#include <deque>

#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using loopbridge::actors::echo;
using loopbridge::actors::echo_reply;
using loopbridge::actors::echo_request;
namespace lbb = loopbridge::bench;

namespace {

/// Requests/s through `h` with `window` in flight from one host thread; adds the process's CPU
/// seconds per request (every thread: host, loop, scheduler threads) to `cpu_per_request`.
double saturate(const actor_handle<echo>& h, std::size_t window, std::size_t total,
                std::vector<double>* cpu_per_request = nullptr) {
  lbb::cpu_meter cpu;
  std::deque<future<echo_reply>> inflight;
  std::size_t sent = 0;
  auto t0 = lbb::clock::now();
  while (sent < total && inflight.size() < window) {
    inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent++)}));
  }
  while (!inflight.empty()) {
    if (!inflight.front().get())
      std::abort();
    inflight.pop_front();
    if (sent < total)
      inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent++)}));
  }
  auto rate = static_cast<double>(total) / lbb::seconds_since(t0);
  if (cpu_per_request)
    cpu_per_request->push_back(cpu.process_s() / static_cast<double>(total));
  return rate;
}

double pipelines(runtime& rt, const actor_handle<echo>& entry, std::size_t window,
                 std::size_t total) {
  std::deque<future<echo_reply>> inflight;
  std::size_t sent = 0;
  auto t0 = lbb::clock::now();
  auto submit = [&] {
    inflight.push_back(
        rt.submit_pipeline<echo_reply>(entry, echo_request{static_cast<std::int64_t>(sent++)}));
  };
  while (sent < total && inflight.size() < window)
    submit();
  while (!inflight.empty()) {
    if (!inflight.front().get())
      std::abort();
    inflight.pop_front();
    if (sent < total)
      submit();
  }
  return static_cast<double>(total) / lbb::seconds_since(t0);
}

actor_spec spec(std::string name, std::uint32_t count, value params) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = "echo";
  s.count = count;
  s.params = std::move(params);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 3 : 5;
  std::size_t total = quick ? 100000 : 500000;
  std::size_t blocking_total = quick ? 2000 : 8000;
  std::size_t seq_total = quick ? 5000 : 20000;
  std::printf("pools: %d runs%s\n", runs, quick ? " (quick)" : "");
  std::vector<double> single, pool4, single_blk, pool4_blk, route_pipe, route_one, seq_calls;
  std::vector<double> single_cpu, pool4_cpu; // CPU seconds per request
  for (int run = 0; run < runs; ++run) {
    runtime rt{actors::builtin_kinds()};
    rt.spawn(spec("single", 1, {})).value();
    rt.spawn(spec("pool", 4, {})).value();
    // Work that waits (200 us on the instance's own thread), where instances add up.
    rt.spawn(spec("single_blk", 1, {{"block", 200us}, {"poll_cancel", false}})).value();
    rt.spawn(spec("pool_blk", 4, {{"block", 200us}, {"poll_cancel", false}})).value();
    rt.spawn(spec("stage1", 1, {})).value();
    rt.spawn(spec("stage2", 1, {})).value();
    rt.add_route("stage1", "stage2").value();
    auto h = [&](const char* n) { return rt.actor<echo>(n).value(); };
    lbb::in_turns(
        static_cast<std::size_t>(run),
        [&] { single.push_back(saturate(h("single"), 4096, total, &single_cpu)); },
        [&] { pool4.push_back(saturate(h("pool"), 4096, total, &pool4_cpu)); });
    single_blk.push_back(saturate(h("single_blk"), 64, blocking_total));
    pool4_blk.push_back(saturate(h("pool_blk"), 64, blocking_total));
    route_pipe.push_back(pipelines(rt, h("stage1"), 4096, total / 2));
    route_one.push_back(pipelines(rt, h("stage1"), 1, seq_total));
    auto s1 = h("stage1"), s2 = h("stage2");
    auto t0 = lbb::clock::now();
    for (std::size_t i = 0; i < seq_total; ++i) {
      auto a = s1.call(echo_request{static_cast<std::int64_t>(i)}, 5s);
      if (!a || !s2.call(echo_request{a->payload}, 5s))
        std::abort();
    }
    seq_calls.push_back(static_cast<double>(seq_total) / lbb::seconds_since(t0));
    std::printf("run %d: single %.0f/s, pool of 4 %.0f/s; blocking 200us: single %.0f/s, pool "
                "%.0f/s; route pipelined %.0f/s, route one at a time %.0f/s, two host calls "
                "%.0f/s\n",
                run + 1, single.back(), pool4.back(), single_blk.back(), pool4_blk.back(),
                route_pipe.back(), route_one.back(), seq_calls.back());
    std::fflush(stdout);
  }
  auto m = [](const std::vector<double>& v) { return lbb::median(v); };
  std::printf("\n%-52s %12s\n", "requests/s (medians)", "");
  std::printf("%-52s %12.0f\n", "single echo (scheduled), 4096 in flight", m(single));
  std::printf("%-52s %12.0f\n", "pool of 4 echo (scheduled), 4096 in flight", m(pool4));
  std::printf("%-52s %12.2f\n", "  CPU us per request, single echo", m(single_cpu) * 1e6);
  std::printf("%-52s %12.2f\n", "  CPU us per request, pool of 4 echo", m(pool4_cpu) * 1e6);
  std::printf("%-52s %12.0f\n", "single echo blocking 200 us (dedicated), 64 in flight",
              m(single_blk));
  std::printf("%-52s %12.0f\n", "pool of 4 blocking 200 us (dedicated), 64 in flight",
              m(pool4_blk));
  std::printf("%-52s %12.0f\n", "two-stage route, 4096 pipelines in flight", m(route_pipe));
  std::printf("%-52s %12.0f\n", "two-stage route, one at a time", m(route_one));
  std::printf("%-52s %12.0f\n", "two sequential host calls per item", m(seq_calls));
  lbb::report rep;
  rep.figure("single_echo", m(single), "req/s");
  rep.figure("pool4_echo", m(pool4), "req/s");
  rep.figure("single_echo_cpu_per_request", m(single_cpu) * 1e6, "us");
  rep.figure("pool4_echo_cpu_per_request", m(pool4_cpu) * 1e6, "us");
  rep.figure("single_blocking_echo", m(single_blk), "req/s");
  rep.figure("pool4_blocking_echo", m(pool4_blk), "req/s");
  rep.figure("route_two_stage_pipelined", m(route_pipe), "req/s");
  rep.figure("route_two_stage_one_at_a_time", m(route_one), "req/s");
  rep.figure("two_sequential_host_calls", m(seq_calls), "items/s");
  rep.ratio("pool4_over_single", m(pool4) / m(single));
  rep.ratio("pool4_over_single_by_cpu", m(single_cpu) / m(pool4_cpu));
  rep.ratio("pool4_blocking_over_single_blocking", m(pool4_blk) / m(single_blk));
  rep.ratio("route_pipelined_over_sequential_calls", m(route_pipe) / m(seq_calls));
  rep.ratio("route_one_at_a_time_over_sequential_calls", m(route_one) / m(seq_calls));
  rep.print();
  return 0;
}
