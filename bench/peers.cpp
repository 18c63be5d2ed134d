// Benchmark: requests between actors. A driver actor asks a pong actor N times — one at a time,
// and pipelined with a window of requests in flight — side by side with raw CAF 0.17 (two
// event-based actors, `request(...).then(...)`, the same scheduler settings), and beside
// loopbridge's own host round trip (`call` from a host thread) in the same run.
//
// Contenders take turns (A B, then B A) in every run; the report gives medians over runs, the
// process CPU per request (getrusage) and PASS/FAIL against the bars:
//   pipelined, 1k in flight: loopbridge's rate >= 0.8x raw CAF's;
//   one at a time: loopbridge's actor -> actor round trip <= 2x its host round trip, by wall
//   time and by CPU per round trip.
//
//   bench/peers [--quick]
#include <cstdio>
#include <future>

#include <caf/all.hpp>

#include "bench_report.hpp"

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/runtime.hpp"

namespace lbb = loopbridge::bench;
using namespace loopbridge;
using namespace std::chrono_literals;

namespace {

// -- loopbridge: a pong kind and a driver kind --------------------------------------------------

struct pong_request {
  using reply_type = std::int64_t;
  std::int64_t value = 0;
};
class pong_worker;
struct pong {
  static constexpr const char* name = "pong";
  using requests = request_list<pong_request>;
  using worker = pong_worker;
};
class pong_worker : public worker {
public:
  explicit pong_worker(worker_context&) {}
  void handle(pong_request& req, responder<std::int64_t>& r) { r.reply(req.value); }
};

struct drive_request {
  using reply_type = std::int64_t; ///< replies answered
  std::int64_t count = 0;
  std::int64_t window = 1;
};
class driver_worker;
struct driver {
  static constexpr const char* name = "driver";
  using requests = request_list<drive_request>;
  using worker = driver_worker;
};
/// Keeps `window` requests to the pong actor in flight until `count` were answered, from
/// continuations; then answers the drive request.
class driver_worker : public worker {
public:
  explicit driver_worker(worker_context& ctx) : ctx_(ctx), pong_(ctx.actor<pong>("pong").value()) {}

  void handle(drive_request& req, responder<std::int64_t>& r) {
    run_ = std::make_unique<run>(run{req.count, 0, 0, std::move(r)});
    for (std::int64_t i = 0; i < req.window && run_->sent < run_->count; ++i)
      send();
  }

private:
  struct run {
    std::int64_t count, sent, answered;
    responder<std::int64_t> r;
  };
  void send() {
    ctx_.request(pong_, pong_request{run_->sent++}, [this](result<std::int64_t> got) {
      if (!got) {
        run_->r.fail(got.error());
        return;
      }
      if (++run_->answered == run_->count)
        run_->r.reply(run_->answered);
      else if (run_->sent < run_->count)
        send();
    });
  }

  worker_context& ctx_;
  actor_handle<pong> pong_;
  std::unique_ptr<run> run_;
};

struct sample {
  double seconds = 0;
  double cpu_s = 0;
};

sample loopbridge_peers(runtime& rt, std::int64_t n, std::int64_t window) {
  auto d = rt.actor<driver>("driver").value();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto r = d.call(drive_request{n, window}, 600s);
  sample s{lbb::seconds_since(t0), cpu.process_s()};
  if (!r || *r != n) {
    std::fprintf(stderr, "driver: %s\n", r ? "short count" : r.error().to_string().c_str());
    std::abort();
  }
  return s;
}

sample loopbridge_host(runtime& rt, std::int64_t n) {
  auto p = rt.actor<pong>("pong").value();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  for (std::int64_t i = 0; i < n; ++i)
    if (auto r = p.call(pong_request{i}, 60s); !r || *r != i)
      std::abort();
  return {lbb::seconds_since(t0), cpu.process_s()};
}

// -- raw CAF: the same two actors ---------------------------------------------------------------

using go_atom = caf::atom_constant<caf::atom("go")>;

caf::behavior caf_pong() {
  return {[](std::int64_t x) { return x; }};
}

struct caf_driver_state {
  std::int64_t count = 0, sent = 0, answered = 0;
  std::promise<void>* done = nullptr;
};

caf::behavior caf_driver(caf::stateful_actor<caf_driver_state>* self, caf::actor pong) {
  auto send = std::make_shared<std::function<void()>>();
  *send = [self, pong, send] {
    auto& s = self->state;
    self->request(pong, caf::infinite, s.sent++).then([self, send](std::int64_t) {
      auto& s = self->state;
      if (++s.answered == s.count)
        s.done->set_value();
      else if (s.sent < s.count)
        (*send)();
    });
  };
  return {[self, send](go_atom, std::int64_t count, std::int64_t window, std::uintptr_t done) {
    auto& s = self->state;
    s = caf_driver_state{count, 0, 0, reinterpret_cast<std::promise<void>*>(done)};
    for (std::int64_t i = 0; i < window && s.sent < s.count; ++i)
      (*send)();
  }};
}

sample raw_caf(caf::actor_system& sys, const caf::actor& driver_actor, std::int64_t n,
               std::int64_t window) {
  (void)sys;
  std::promise<void> done;
  auto finished = done.get_future();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  caf::anon_send(driver_actor, go_atom::value, n, window, reinterpret_cast<std::uintptr_t>(&done));
  finished.wait();
  return {lbb::seconds_since(t0), cpu.process_s()};
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 3 : 7;
  std::int64_t pipelined = quick ? 100000 : 500000;
  std::int64_t serial = quick ? 10000 : 50000;
  constexpr std::int64_t window = 1000;
  std::printf("peers: %d runs; pipelined %lld requests (%lld in flight), one at a time %lld%s\n",
              runs, static_cast<long long>(pipelined), static_cast<long long>(window),
              static_cast<long long>(serial), quick ? " (quick)" : "");

  auto kinds = actors::builtin_kinds();
  kinds.add<pong>();
  kinds.add<driver>();
  runtime rt{std::move(kinds)};
  actor_spec pong_spec, driver_spec;
  pong_spec.name = "pong";
  pong_spec.kind = "pong";
  driver_spec.name = "driver";
  driver_spec.kind = "driver";
  driver_spec.depends_on = {"pong"};
  if (auto ok = rt.start({pong_spec, driver_spec}); !ok) {
    std::fprintf(stderr, "start: %s\n", ok.error().to_string().c_str());
    return 2;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto caf_pong_actor = sys.spawn(caf_pong);
  auto caf_driver_actor = sys.spawn(caf_driver, caf_pong_actor);

  std::vector<double> lb_rate, caf_rate, lb_cpu, caf_cpu;              // pipelined
  std::vector<double> lb_rtt, caf_rtt, host_rtt, lb_rtt_cpu, host_cpu; // one at a time
  for (int run = 0; run < runs; ++run) {
    lbb::in_turns(
        static_cast<std::size_t>(run),
        [&] {
          auto s = loopbridge_peers(rt, pipelined, window);
          lb_rate.push_back(static_cast<double>(pipelined) / s.seconds);
          lb_cpu.push_back(s.cpu_s / static_cast<double>(pipelined) * 1e6);
        },
        [&] {
          auto s = raw_caf(sys, caf_driver_actor, pipelined, window);
          caf_rate.push_back(static_cast<double>(pipelined) / s.seconds);
          caf_cpu.push_back(s.cpu_s / static_cast<double>(pipelined) * 1e6);
        });
    lbb::in_turns(
        static_cast<std::size_t>(run),
        [&] {
          auto s = loopbridge_peers(rt, serial, 1);
          lb_rtt.push_back(s.seconds / static_cast<double>(serial) * 1e6);
          lb_rtt_cpu.push_back(s.cpu_s / static_cast<double>(serial) * 1e6);
          auto h = loopbridge_host(rt, serial);
          host_rtt.push_back(h.seconds / static_cast<double>(serial) * 1e6);
          host_cpu.push_back(h.cpu_s / static_cast<double>(serial) * 1e6);
        },
        [&] {
          auto s = raw_caf(sys, caf_driver_actor, serial, 1);
          caf_rtt.push_back(s.seconds / static_cast<double>(serial) * 1e6);
        });
    std::printf("  run %d: pipelined %.3g vs CAF %.3g req/s; one at a time %.2f us (host %.2f "
                "us, CAF %.2f us)\n",
                run, lb_rate.back(), caf_rate.back(), lb_rtt.back(), host_rtt.back(),
                caf_rtt.back());
  }
  caf::anon_send_exit(caf_driver_actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(caf_pong_actor, caf::exit_reason::user_shutdown);

  auto m = [](const std::vector<double>& v) { return lbb::median(v); };
  std::printf("\n%-34s %14s %14s %12s\n", "", "loopbridge", "raw CAF", "ratio");
  std::printf("%-34s %14.4g %14.4g %12.3f\n", "pipelined (req/s, 1k in flight)", m(lb_rate),
              m(caf_rate), m(lb_rate) / m(caf_rate));
  std::printf("%-34s %14.3f %14.3f %12.3f\n", "  CPU per request (us)", m(lb_cpu), m(caf_cpu),
              m(lb_cpu) / m(caf_cpu));
  std::printf("%-34s %14.3f %14.3f %12.3f\n", "one at a time (us per round trip)", m(lb_rtt),
              m(caf_rtt), m(lb_rtt) / m(caf_rtt));
  std::printf("%-34s %14.3f %14s %12.3f\n", "  host round trip (us), same runtime", m(host_rtt), "",
              m(lb_rtt) / m(host_rtt));
  std::printf("%-34s %14.3f %14s %12.3f\n", "  CPU per round trip (us), vs host", m(lb_rtt_cpu), "",
              m(lb_rtt_cpu) / m(host_cpu));

  lbb::report rep;
  double pipelined_ratio = m(lb_rate) / m(caf_rate);
  double cpu_ratio = m(caf_cpu) / m(lb_cpu);
  double serial_vs_host = m(lb_rtt) / m(host_rtt);
  rep.require("pipelined actor -> actor >= 0.8x raw CAF's rate (median " +
                  std::to_string(pipelined_ratio).substr(0, 5) + "x)",
              pipelined_ratio >= 0.8);
  rep.require("pipelined actor -> actor >= 0.8x raw CAF by CPU per request (" +
                  std::to_string(cpu_ratio).substr(0, 5) + "x)",
              cpu_ratio >= 0.8);
  rep.require("one at a time <= 2x loopbridge's host round trip (" +
                  std::to_string(serial_vs_host).substr(0, 5) + "x)",
              serial_vs_host <= 2.0);
  double serial_cpu_vs_host = m(lb_rtt_cpu) / m(host_cpu);
  rep.require("one at a time <= 2x the host round trip by CPU per round trip (" +
                  std::to_string(serial_cpu_vs_host).substr(0, 5) + "x)",
              serial_cpu_vs_host <= 2.0);
  rep.figure("peers_pipelined_rate", m(lb_rate), "req/s");
  rep.figure("peers_pipelined_caf_rate", m(caf_rate), "req/s");
  rep.figure("peers_pipelined_cpu", m(lb_cpu), "us/req");
  rep.figure("peers_pipelined_caf_cpu", m(caf_cpu), "us/req");
  rep.figure("peers_serial_rtt", m(lb_rtt), "us");
  rep.figure("peers_serial_caf_rtt", m(caf_rtt), "us");
  rep.figure("peers_host_rtt", m(host_rtt), "us");
  rep.figure("peers_serial_cpu", m(lb_rtt_cpu), "us/req");
  rep.figure("peers_host_cpu", m(host_cpu), "us/req");
  rep.ratio("peers_pipelined_vs_caf", pipelined_ratio);
  rep.ratio("peers_pipelined_cpu_vs_caf", cpu_ratio);
  rep.ratio("peers_serial_vs_host", serial_vs_host);
  rep.ratio("peers_serial_cpu_vs_host", serial_cpu_vs_host);
  rep.print();
  return 0;
}
