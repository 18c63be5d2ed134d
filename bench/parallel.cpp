// bench/parallel: whether scheduled actors use the machine's cores, and what that costs the
// rest of the runtime, in one run:
//
//  1. CPU-bound scheduled kind: a user kind `spin` (default execution: scheduled) that computes
//     for 500 us per request, as a pool of 1 and a pool of 2, pipelined from one host thread
//     (64 in flight), beside raw CAF: two event-based actors on CAF's default scheduler fed
//     round-robin by a driver actor, same work per request.
//  2. Isolation: while a pool of 2 `spin` instances runs 2 ms requests back to back (a
//     background host thread keeps 8 in flight), the round trip of an unrelated echo at its
//     default execution, of an echo on a dedicated thread, and of a raw two-thread
//     mutex + condition variable ping-pong under the same load, one call at a time with a
//     random pause between calls (see measure_calls). Every wait has a deadline: a call that
//     misses it counts with the time it took and as a timeout.
//  3. The bridge: echo round trip (one at a time) beside raw CAF scoped_actor request/receive
//     and the Python EventThread (bench/baselines/event_thread.py), plus pipelined throughput
//     from one host thread with 1k in flight.
//  4. Idle: a runtime with an echo, a fetcher and a blocking pool, after a few calls, left
//     alone for 2 s: CPU used by the process's threads (/proc/self/task/*/stat utime + stime,
//     in clock ticks; schedstat's nanoseconds beside it), per thread, beside an idle raw CAF
//     actor_system with one actor.
//
// Contenders of a section run in turns within each round, the order rotating round to round.
// CPU time (getrusage: the process, and the calling host thread) is printed beside wall time.
// Section 2's figures pool the samples of every round (a few hundred calls); the others are
// medians over rounds.
//
// usage: parallel [--quick] [--part N]...   (--part: only section N; repeatable)
#include <caf/all.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/worker.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using loopbridge::actors::echo;
using loopbridge::actors::echo_request;
using loopbridge::actors::fetch_request;
using loopbridge::actors::fetcher;
namespace lbb = loopbridge::bench;

namespace {

// -- the work -------------------------------------------------------------------------------------

/// Computes for `d` of wall time (xorshift-multiply rounds, the steady clock read every 64 of
/// them) and returns the result, so the work cannot be optimised away.
std::uint64_t burn(std::chrono::nanoseconds d) {
  auto until = lbb::clock::now() + d;
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  do {
    for (int i = 0; i < 64; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      x *= 0x2545f4914f6cdd1dull;
    }
  } while (lbb::clock::now() < until);
  return x;
}

/// The calling thread's name (prctl: a system call, no /proc read).
std::string this_thread_name() {
  char buf[17] = {};
  ::prctl(PR_GET_NAME, buf, 0, 0, 0);
  return buf;
}

/// Names the calling thread (at most 15 characters), for the per-thread CPU tables.
void name_this_thread(const char* name) {
  ::prctl(PR_SET_NAME, name, 0, 0, 0);
}

// -- the `spin` kind ------------------------------------------------------------------------------

struct spin_reply {
  std::uint64_t checksum = 0;
  std::uint32_t instance = 0;
  /// The OS name of the thread the handler ran on.
  std::string thread;

  template <class Inspector>
  friend auto inspect(Inspector& f, spin_reply& x) {
    return f(caf::meta::type_name("spin_reply"), field("checksum"), x.checksum, field("instance"),
             x.instance, field("thread"), x.thread);
  }
};

struct spin_request {
  using reply_type = spin_reply;
  /// Microseconds of computation.
  std::int64_t micros = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, spin_request& x) {
    return f(caf::meta::type_name("spin_request"), field("micros"), x.micros);
  }
};

class spin_worker;

/// Computes for the requested time and replies. Execution: the default (scheduled).
struct spin {
  static constexpr const char* name = "spin";
  using requests = request_list<spin_request>;
  using worker = spin_worker;
};

class spin_worker final : public loopbridge::worker {
public:
  explicit spin_worker(worker_context& ctx) : instance_(ctx.instance()) {}
  void handle(spin_request& req, responder<spin_reply>& r) {
    auto sum = burn(std::chrono::microseconds(req.micros));
    r.reply(spin_reply{sum, instance_, this_thread_name()});
  }

private:
  std::uint32_t instance_;
};

kind_registry kinds() {
  auto k = actors::builtin_kinds();
  k.add<spin>("computes for the requested time (bench/parallel)");
  return k;
}

/// The runtime's options for every section: scheduler threads left at the default.
runtime_options options() {
  runtime_options o;
  o.scheduler_threads = 0; // the default: one scheduler thread per core
  return o;
}

actor_spec spec(std::string name, std::string kind, std::uint32_t count, value params = {}) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.count = count;
  s.params = std::move(params);
  return s;
}

// -- CPU time -------------------------------------------------------------------------------------

using lbb::cpu_meter;

/// One thread of this process: its name and CPU so far, from /proc/self/task/TID/stat
/// (utime + stime, clock ticks) and /proc/self/task/TID/schedstat (on-CPU nanoseconds).
struct task_cpu {
  std::string name;
  double stat_s = 0;
  double sched_s = 0;
};

std::map<long, task_cpu> task_snapshot() {
  std::map<long, task_cpu> out;
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream stat{task.path() / "stat"}, sched{task.path() / "schedstat"};
    std::string line;
    if (!std::getline(stat, line))
      continue;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    task_cpu t;
    t.name = line.substr(open + 1, close - open - 1);
    // Fields after the name: state (3) ... utime (14), stime (15).
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(line.c_str() + close + 1,
                    " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
      continue;
    t.stat_s = static_cast<double>(utime + stime) / tick;
    double ns = 0;
    if (sched >> ns)
      t.sched_s = ns / 1e9;
    out[std::stol(task.path().filename().string())] = t;
  }
  return out;
}

/// Per-thread CPU between two snapshots, by thread id. A thread born in between counts whole;
/// one that ended in between is lost (counted in `ended`).
struct task_delta {
  std::vector<std::pair<long, task_cpu>> rows; // sorted by stat, then schedstat, descending
  double stat_s = 0;
  double sched_s = 0;
  std::size_t ended = 0;
};

task_delta task_diff(const std::map<long, task_cpu>& before,
                     const std::map<long, task_cpu>& after) {
  task_delta d;
  for (auto& [tid, a] : after) {
    task_cpu x = a;
    if (auto it = before.find(tid); it != before.end()) {
      x.stat_s -= it->second.stat_s;
      x.sched_s -= it->second.sched_s;
    }
    d.stat_s += x.stat_s;
    d.sched_s += x.sched_s;
    d.rows.emplace_back(tid, x);
  }
  for (auto& [tid, b] : before)
    if (!after.count(tid))
      ++d.ended;
  std::sort(d.rows.begin(), d.rows.end(), [](auto& l, auto& r) {
    return l.second.stat_s != r.second.stat_s ? l.second.stat_s > r.second.stat_s
                                              : l.second.sched_s > r.second.sched_s;
  });
  return d;
}

void print_tasks(const task_delta& d, double window_s, const char* indent) {
  std::printf("%s%-18s %8s %10s %10s\n", indent, "thread", "tid", "stat ms", "sched ms");
  for (auto& [tid, t] : d.rows)
    std::printf("%s%-18s %8ld %10.1f %10.2f   (%.2f %% of a core)\n", indent, t.name.c_str(), tid,
                t.stat_s * 1e3, t.sched_s * 1e3, 100 * t.sched_s / window_s);
  std::printf("%s%-18s %8s %10.1f %10.2f   (%.2f %% of a core; %zu threads%s)\n", indent, "total",
              "", d.stat_s * 1e3, d.sched_s * 1e3, 100 * d.sched_s / window_s, d.rows.size(),
              d.ended ? ", some ended meanwhile" : "");
}

// -- helpers --------------------------------------------------------------------------------------

std::string machine_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown";
}

/// Runs `fns[(turn + k) % n]` for k = 0..n-1: every contender goes first in turn.
void rotate(std::size_t turn, const std::vector<std::function<void()>>& fns) {
  for (std::size_t k = 0; k < fns.size(); ++k)
    fns[(turn + k) % fns.size()]();
}

double us_since(lbb::clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(lbb::clock::now() - t0).count();
}

std::string thread_mix(const std::map<std::string, std::uint64_t>& by_thread) {
  std::uint64_t total = 0;
  for (auto& [_, n] : by_thread)
    total += n;
  std::string out;
  for (auto& [name, n] : by_thread) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.0f%%", out.empty() ? "" : ", ", name.c_str(),
                  100.0 * static_cast<double>(n) / static_cast<double>(total ? total : 1));
    out += buf;
  }
  return out.empty() ? "-" : out;
}

// -- 1. CPU-bound scheduled kind ------------------------------------------------------------------

struct throughput {
  double per_s = 0;
  double cpu_us = 0;      // process CPU per request
  double host_cpu_us = 0; // submitting host thread's CPU per request
  std::size_t errors = 0;
};

/// `total` spin requests of `work` each through `h`, `window` in flight from this thread. Each
/// request has a deadline; a wait that outlives it by a second is given up (cancel).
throughput spin_pipelined(const actor_handle<spin>& h, std::chrono::microseconds work,
                          std::size_t window, std::size_t total,
                          std::map<std::string, std::uint64_t>& by_thread,
                          std::map<std::uint32_t, std::uint64_t>& by_instance) {
  constexpr auto deadline = 10s;
  std::deque<future<spin_reply>> inflight;
  std::size_t sent = 0;
  throughput out;
  cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto submit = [&] {
    inflight.push_back(h.submit(spin_request{work.count()}, deadline));
    ++sent;
  };
  while (sent < total && inflight.size() < window)
    submit();
  while (!inflight.empty()) {
    auto& f = inflight.front();
    if (!f.wait_for(deadline + 1s))
      f.cancel();
    if (f.ready()) {
      auto r = f.get();
      if (r) {
        ++by_thread[r->thread];
        ++by_instance[r->instance];
      } else {
        ++out.errors;
      }
    } else {
      ++out.errors;
    }
    inflight.pop_front();
    if (sent < total)
      submit();
  }
  auto secs = lbb::seconds_since(t0);
  out.per_s = static_cast<double>(total) / secs;
  out.cpu_us = cpu.process_s() * 1e6 / static_cast<double>(total);
  out.host_cpu_us = cpu.thread_s() * 1e6 / static_cast<double>(total);
  return out;
}

throughput loopbridge_spin_pool(std::uint32_t count, std::chrono::microseconds work,
                                std::size_t window, std::size_t total, std::string& mix) {
  runtime rt{kinds(), options()};
  rt.spawn(spec("spin", "spin", count)).value();
  auto h = rt.actor<spin>("spin").value();
  std::map<std::string, std::uint64_t> by_thread, warm_threads;
  std::map<std::uint32_t, std::uint64_t> by_instance, warm_instances;
  spin_pipelined(h, work, window, std::min<std::size_t>(total, 4 * window), warm_threads,
                 warm_instances); // warm-up
  auto t = spin_pipelined(h, work, window, total, by_thread, by_instance);
  mix = "threads: " + thread_mix(by_thread) + "; instances:";
  for (auto& [i, n] : by_instance)
    mix += " #" + std::to_string(i) + " " + std::to_string(n);
  return t;
}

using run_atom = caf::atom_constant<caf::atom("run")>;

struct driver_state {
  std::vector<caf::actor> workers;
  std::int64_t total = 0;
  std::int64_t sent = 0;
  std::int64_t done = 0;
  std::int64_t errors = 0;
  caf::response_promise promise;
};

void drive_next(caf::event_based_actor* self, const std::shared_ptr<driver_state>& st);

void drive_one(caf::event_based_actor* self, const std::shared_ptr<driver_state>& st) {
  auto i = st->sent++;
  auto& w = st->workers[static_cast<std::size_t>(i) % st->workers.size()];
  self->request(w, std::chrono::seconds(10), i)
      .then(
          [self, st](std::int64_t) {
            ++st->done;
            drive_next(self, st);
          },
          [self, st](caf::error&) {
            ++st->done;
            ++st->errors;
            drive_next(self, st);
          });
}

void drive_next(caf::event_based_actor* self, const std::shared_ptr<driver_state>& st) {
  if (st->sent < st->total)
    drive_one(self, st);
  else if (st->done == st->total)
    st->promise.deliver(st->errors);
}

/// The same workload on raw CAF 0.17: two event-based actors on the default scheduler of their
/// own actor_system, fed round-robin by a driver actor that keeps `window` requests in flight;
/// the host thread waits on the driver from a scoped_actor.
throughput raw_caf_spin(std::chrono::microseconds work, std::size_t window, std::size_t total) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto make_worker = [work]() -> caf::behavior {
    return {[work](std::int64_t x) -> std::int64_t {
      return static_cast<std::int64_t>(burn(work) ^ static_cast<std::uint64_t>(x));
    }};
  };
  std::vector<caf::actor> workers{sys.spawn(make_worker), sys.spawn(make_worker)};
  auto driver = sys.spawn([workers](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self, workers](run_atom, std::int64_t n, std::int64_t win) -> caf::result<std::int64_t> {
          auto st = std::make_shared<driver_state>();
          st->workers = workers;
          st->total = n;
          st->promise = self->make_response_promise();
          for (std::int64_t i = 0; i < std::min(n, win); ++i)
            drive_one(self, st);
          return st->promise;
        }};
  });
  throughput out;
  {
    caf::scoped_actor self{sys};
    auto run = [&](std::size_t n) {
      std::int64_t errors = -1;
      self->request(driver, std::chrono::seconds(120), run_atom::value,
                    static_cast<std::int64_t>(n), static_cast<std::int64_t>(window))
          .receive([&](std::int64_t e) { errors = e; },
                   [&](caf::error& e) {
                     std::fprintf(stderr, "  raw CAF driver: %s\n", caf::to_string(e).c_str());
                   });
      return errors;
    };
    run(std::min<std::size_t>(total, 4 * window)); // warm-up
    cpu_meter cpu;
    auto t0 = lbb::clock::now();
    auto errors = run(total);
    auto secs = lbb::seconds_since(t0);
    out.per_s = static_cast<double>(total) / secs;
    out.cpu_us = cpu.process_s() * 1e6 / static_cast<double>(total);
    out.host_cpu_us = cpu.thread_s() * 1e6 / static_cast<double>(total);
    out.errors = errors < 0 ? total : static_cast<std::size_t>(errors);
  }
  for (auto& w : workers)
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  return out;
}

// -- 2. Isolation ---------------------------------------------------------------------------------

/// A host thread keeping `window` spin requests of `work` in flight until stopped. Every wait
/// is bounded; on stop, what is still in flight is cancelled.
class background_load {
public:
  background_load(actor_handle<spin> h, std::chrono::microseconds work, std::size_t window)
      : thread_([this, h = std::move(h), work, window] {
          name_this_thread("bench.load");
          run(h, work, window);
        }) {}
  ~background_load() { finish(); }

  void finish() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  std::uint64_t completed() const { return completed_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  /// Valid after `finish`.
  const std::map<std::string, std::uint64_t>& by_thread() const { return by_thread_; }

private:
  void run(const actor_handle<spin>& h, std::chrono::microseconds work, std::size_t window) {
    std::deque<future<spin_reply>> inflight;
    while (!stop_) {
      while (inflight.size() < window)
        inflight.push_back(h.submit(spin_request{work.count()}, 5s));
      auto& f = inflight.front();
      if (!f.wait_for(50ms))
        continue; // look at stop_ again
      settle(f);
      inflight.pop_front();
    }
    for (auto& f : inflight)
      f.cancel();
    for (auto& f : inflight) {
      if (f.wait_for(2s))
        settle(f);
      else
        ++failed_;
    }
  }
  void settle(future<spin_reply>& f) {
    auto r = f.get();
    if (r) {
      ++completed_;
      ++by_thread_[r->thread];
    } else if (!r.is(errc::cancelled)) {
      ++failed_;
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::map<std::string, std::uint64_t> by_thread_;
  std::thread thread_; // last: starts once the members above exist
};

/// Two threads handing a token back and forth with a mutex and condition variables.
class ping_pong {
public:
  ping_pong()
      : ponger_([this] {
          name_this_thread("bench.pong");
          std::unique_lock<std::mutex> lock{mutex_};
          for (;;) {
            to_pong_.wait(lock, [&] { return at_pong_ || stop_; });
            if (stop_)
              return;
            at_pong_ = false;
            lock.unlock();
            to_ping_.notify_one();
            lock.lock();
          }
        }) {}
  ~ping_pong() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stop_ = true;
    }
    to_pong_.notify_one();
    ponger_.join();
  }
  /// Sends the token and waits for it to come back, at most until `deadline`.
  bool round_trip(lbb::clock::time_point deadline) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      at_pong_ = true;
    }
    to_pong_.notify_one();
    std::unique_lock<std::mutex> lock{mutex_};
    return to_ping_.wait_until(lock, deadline, [&] { return !at_pong_; });
  }

private:
  std::mutex mutex_;
  std::condition_variable to_pong_, to_ping_;
  bool at_pong_ = false;
  bool stop_ = false;
  std::thread ponger_;
};

/// Round trips one at a time: up to `n` calls or until `budget` has passed. A call that misses
/// its deadline counts with the time it took (a lower bound) and as a timeout. Between calls
/// the caller sleeps a random 0..`max_gap` (fixed seed): calls back to back would sample the
/// moments the loop happens to be free far more often than the moments it is busy (a call
/// that finds it free returns at once and the next one follows while it still is), so the
/// median would depend on the load's phase; spaced at random, calls arrive at moments
/// independent of the load, as an unrelated caller's would.
struct rtt_samples {
  std::vector<double> us;
  std::size_t timeouts = 0;
  std::size_t errors = 0;
  double host_cpu_s = 0;
};

void measure_calls(rtt_samples& into, std::size_t n, std::chrono::nanoseconds budget,
                   std::chrono::microseconds max_gap,
                   const std::function<int()>& once) { // once: 0 ok, 1 timeout, 2 error
  std::mt19937 rng{12345};
  std::uniform_int_distribution<std::int64_t> gap{0, max_gap.count()};
  auto end = lbb::clock::now() + budget;
  cpu_meter cpu;
  for (std::size_t i = 0; i < n && lbb::clock::now() < end; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(gap(rng)));
    auto t0 = lbb::clock::now();
    int rc = once();
    into.us.push_back(us_since(t0));
    if (rc == 1)
      ++into.timeouts;
    else if (rc == 2)
      ++into.errors;
  }
  into.host_cpu_s += cpu.thread_s();
}

/// One echo call with a deadline; the host's wait is bounded too (the deadline plus 100 ms,
/// then the request is cancelled), so a loop that never gets to it cannot hang the benchmark.
int echo_call(const actor_handle<echo>& h, std::int64_t i, std::chrono::nanoseconds deadline) {
  auto f = h.submit(echo_request{i}, deadline);
  if (!f.wait_for(deadline + 100ms)) {
    f.cancel();
    return 1;
  }
  auto r = f.get();
  if (r)
    return 0;
  return r.is(errc::timeout) || r.is(errc::cancelled) ? 1 : 2;
}

// -- 3. Bridge round trip -------------------------------------------------------------------------

struct latency {
  double median_us = 0;
  double p99_us = 0;
  double cpu_us = 0;      // process CPU per round trip
  double host_cpu_us = 0; // calling thread's CPU per round trip
};

latency measure_rtt(const std::function<void(std::int64_t)>& roundtrip, int n) {
  for (int i = 0; i < std::min(n / 10, 2000); ++i)
    roundtrip(i); // warm-up
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(n));
  cpu_meter cpu;
  for (int i = 0; i < n; ++i) {
    auto t0 = lbb::clock::now();
    roundtrip(i);
    samples.push_back(us_since(t0));
  }
  latency l;
  l.cpu_us = cpu.process_s() * 1e6 / n;
  l.host_cpu_us = cpu.thread_s() * 1e6 / n;
  l.median_us = lbb::median(samples);
  l.p99_us = lbb::quantile(samples, 0.99);
  return l;
}

throughput echo_pipelined(const actor_handle<echo>& h, std::size_t window, std::size_t total) {
  std::deque<future<actors::echo_reply>> inflight;
  std::size_t sent = 0;
  throughput out;
  cpu_meter cpu;
  auto t0 = lbb::clock::now();
  while (sent < total && inflight.size() < window)
    inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent++)}));
  while (!inflight.empty()) {
    if (!inflight.front().get())
      ++out.errors;
    inflight.pop_front();
    if (sent < total)
      inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent++)}));
  }
  out.per_s = static_cast<double>(total) / lbb::seconds_since(t0);
  out.cpu_us = cpu.process_s() * 1e6 / static_cast<double>(total);
  out.host_cpu_us = cpu.thread_s() * 1e6 / static_cast<double>(total);
  return out;
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
          self->request(echo_actor, std::chrono::seconds(10), i)
              .receive([](std::int64_t) {}, [](caf::error&) { std::abort(); });
        },
        n);
  }
  caf::anon_send_exit(echo_actor, caf::exit_reason::user_shutdown);
  return result;
}

// -- 4. Idle --------------------------------------------------------------------------------------

struct idle_result {
  double stat_percent = 0;  // utime + stime of every thread, % of one core
  double sched_percent = 0; // schedstat of every thread, % of one core
  double rusage_percent = 0;
  task_delta tasks;
};

idle_result measure_idle(std::chrono::milliseconds window) {
  auto before = task_snapshot();
  double r0 = lbb::cpu_seconds(RUSAGE_SELF);
  auto t0 = lbb::clock::now();
  std::this_thread::sleep_for(window);
  auto secs = lbb::seconds_since(t0);
  double r1 = lbb::cpu_seconds(RUSAGE_SELF);
  idle_result out;
  out.tasks = task_diff(before, task_snapshot());
  out.stat_percent = 100 * out.tasks.stat_s / secs;
  out.sched_percent = 100 * out.tasks.sched_s / secs;
  out.rusage_percent = 100 * (r1 - r0) / secs;
  return out;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  auto parts = lbb::selected_parts(argc, argv, 4);
  auto part = [&](int n) { return parts.empty() || std::count(parts.begin(), parts.end(), n); };
  std::printf("parallel: machine %s, %u cores%s\n", machine_model().c_str(),
              std::thread::hardware_concurrency(), quick ? " (quick)" : "");
  lbb::report rep;
  auto m = [](const std::vector<double>& v) { return lbb::median(v); };

  // -- 1 ------------------------------------------------------------------------------------------
  if (part(1)) {
    int rounds = quick ? 3 : 5;
    std::size_t total = quick ? 400 : 2000;
    constexpr std::size_t window = 64;
    constexpr auto work = 500us;
    std::printf("\n[1] CPU-bound scheduled kind: %zu requests of %lld us per contender, %zu in "
                "flight from one host thread, %d rounds\n",
                total, static_cast<long long>(work.count()), window, rounds);
    std::vector<double> p1, p2, raw, p1_cpu, p2_cpu, raw_cpu, p1_host, p2_host, raw_host;
    for (int round = 0; round < rounds; ++round) {
      std::string mix1, mix2;
      throughput a, b, c;
      rotate(static_cast<std::size_t>(round),
             {[&] { a = loopbridge_spin_pool(1, work, window, total, mix1); },
              [&] { b = loopbridge_spin_pool(2, work, window, total, mix2); },
              [&] { c = raw_caf_spin(work, window, total); }});
      p1.push_back(a.per_s), p2.push_back(b.per_s), raw.push_back(c.per_s);
      p1_cpu.push_back(a.cpu_us), p2_cpu.push_back(b.cpu_us), raw_cpu.push_back(c.cpu_us);
      p1_host.push_back(a.host_cpu_us), p2_host.push_back(b.host_cpu_us);
      raw_host.push_back(c.host_cpu_us);
      std::printf("round %d: pool of 1 %.0f/s (CPU %.0f us/req), pool of 2 %.0f/s (CPU %.0f "
                  "us/req), raw CAF 2 actors %.0f/s (CPU %.0f us/req)%s\n",
                  round + 1, a.per_s, a.cpu_us, b.per_s, b.cpu_us, c.per_s, c.cpu_us,
                  a.errors + b.errors + c.errors ? " ERRORS" : "");
      std::printf("         pool of 1: %s\n         pool of 2: %s\n", mix1.c_str(), mix2.c_str());
      if (a.errors + b.errors + c.errors)
        std::printf("         errors: pool of 1 %zu, pool of 2 %zu, raw CAF %zu\n", a.errors,
                    b.errors, c.errors);
      std::fflush(stdout);
    }
    std::printf("\n%-44s %10s %14s %14s %8s\n", "500 us requests (medians)", "req/s", "CPU us/req",
                "host us/req", "cores");
    auto row = [&](const char* what, const std::vector<double>& r, const std::vector<double>& cpu,
                   const std::vector<double>& host) {
      std::printf("%-44s %10.0f %14.1f %14.1f %8.2f\n", what, m(r), m(cpu), m(host),
                  m(r) * m(cpu) / 1e6);
    };
    row("loopbridge spin, pool of 1 (scheduled)", p1, p1_cpu, p1_host);
    row("loopbridge spin, pool of 2 (scheduled)", p2, p2_cpu, p2_host);
    row("raw CAF, 2 event-based actors, driver actor", raw, raw_cpu, raw_host);
    // The work is measured on the steady clock: a thread that loses its core while it computes
    // still finishes its request on time, so req/s alone would count that time as work.
    for (auto& [what, cpu] :
         {std::make_pair("pool of 1", m(p1_cpu)), std::make_pair("pool of 2", m(p2_cpu)),
          std::make_pair("raw CAF", m(raw_cpu))})
      if (cpu < 0.9 * static_cast<double>(work.count()))
        std::printf("note: %s used %.0f us of CPU per %lld us request: its computing threads "
                    "lost their core part of the time (other threads or processes), and req/s "
                    "counts that time as work; the cores column is what it really used\n",
                    what, cpu, static_cast<long long>(work.count()));
    rep.figure("spin_pool1", m(p1), "req/s");
    rep.figure("spin_pool2", m(p2), "req/s");
    rep.figure("spin_raw_caf_2actors", m(raw), "req/s");
    rep.figure("spin_pool1_cpu", m(p1_cpu), "us/req");
    rep.figure("spin_pool2_cpu", m(p2_cpu), "us/req");
    rep.figure("spin_raw_caf_2actors_cpu", m(raw_cpu), "us/req");
    rep.figure("spin_pool1_cores", m(p1) * m(p1_cpu) / 1e6, "cores");
    rep.figure("spin_pool2_cores", m(p2) * m(p2_cpu) / 1e6, "cores");
    rep.figure("spin_raw_caf_2actors_cores", m(raw) * m(raw_cpu) / 1e6, "cores");
    rep.ratio("spin_pool2_over_pool1", m(p2) / m(p1));
    rep.ratio("spin_pool2_over_raw_caf_2actors", m(p2) / m(raw));
    rep.require("spin: pool of 2 >= 1.7x pool of 1 (500 us CPU-bound requests)",
                m(p2) / m(p1) >= 1.7);
    rep.require("spin: pool of 2 >= 0.9x raw CAF with two actors", m(p2) / m(raw) >= 0.9);
  }

  // -- 2 ------------------------------------------------------------------------------------------
  if (part(2)) {
    int rounds = quick ? 3 : 5;
    std::size_t calls = quick ? 100 : 150;
    auto budget = quick ? std::chrono::milliseconds(1500) : std::chrono::milliseconds(3000);
    auto deadline = quick ? std::chrono::milliseconds(1000) : std::chrono::milliseconds(2000);
    constexpr auto work = 2000us;
    constexpr std::size_t load_window = 8;
    constexpr auto max_gap = 2000us; // random pause between calls: one spin request at most
    std::printf("\n[2] Isolation: pool of 2 spin running %lld us requests (%zu in flight from a "
                "background host thread); per round and contender up to %zu calls one at a time, "
                "0..%lld us apart at random, or %.1f s, each call's deadline %.1f s; %d rounds\n",
                static_cast<long long>(work.count()), load_window, calls,
                static_cast<long long>(max_gap.count()),
                std::chrono::duration<double>(budget).count(),
                std::chrono::duration<double>(deadline).count(), rounds);
    rtt_samples lb, ded, raw;
    std::vector<double> load_rate;
    std::map<std::string, std::uint64_t> load_threads;
    std::uint64_t load_failed = 0;
    task_delta last_tasks;
    double last_window = 0;
    for (int round = 0; round < rounds; ++round) {
      runtime rt{kinds(), options()};
      rt.spawn(spec("load", "spin", 2)).value();
      rt.spawn("echo", "echo").value();
      rt.spawn("echo_ded", "echo", {{"dedicated", true}}).value();
      auto echo_h = rt.actor<echo>("echo").value();
      auto ded_h = rt.actor<echo>("echo_ded").value();
      for (int i = 0; i < 50; ++i) { // warm-up, before the load starts
        echo_call(echo_h, i, deadline);
        echo_call(ded_h, i, deadline);
      }
      ping_pong pp;
      for (int i = 0; i < 50; ++i)
        pp.round_trip(lbb::clock::now() + deadline);
      rtt_samples lb_r, ded_r, raw_r;
      background_load load{rt.actor<spin>("load").value(), work, load_window};
      std::this_thread::sleep_for(100ms); // let the load settle
      auto tasks0 = task_snapshot();
      auto done0 = load.completed();
      auto t0 = lbb::clock::now();
      std::int64_t id = 0;
      rotate(static_cast<std::size_t>(round),
             {[&] {
                measure_calls(lb_r, calls, budget, max_gap,
                              [&] { return echo_call(echo_h, ++id, deadline); });
              },
              [&] {
                measure_calls(ded_r, calls, budget, max_gap,
                              [&] { return echo_call(ded_h, ++id, deadline); });
              },
              [&] {
                // The pinger is a thread of its own, like the ponger.
                std::thread pinger{[&] {
                  name_this_thread("bench.ping");
                  measure_calls(raw_r, calls, budget, max_gap, [&] {
                    return pp.round_trip(lbb::clock::now() + deadline) ? 0 : 1;
                  });
                }};
                pinger.join();
              }});
      auto window_s = lbb::seconds_since(t0);
      auto rate = static_cast<double>(load.completed() - done0) / window_s;
      last_tasks = task_diff(tasks0, task_snapshot());
      last_window = window_s;
      load.finish();
      load_rate.push_back(rate);
      load_failed += load.failed();
      for (auto& [name, n] : load.by_thread())
        load_threads[name] += n;
      std::printf("round %d: echo (scheduled) median %.1f us over %zu calls (%zu timeouts), "
                  "echo (dedicated) %.1f us (%zu calls, %zu timeouts), raw ping-pong %.1f us "
                  "(%zu calls, %zu timeouts); background %.0f spin/s\n",
                  round + 1, lbb::median(lb_r.us), lb_r.us.size(), lb_r.timeouts,
                  lbb::median(ded_r.us), ded_r.us.size(), ded_r.timeouts, lbb::median(raw_r.us),
                  raw_r.us.size(), raw_r.timeouts, rate);
      std::fflush(stdout);
      auto merge = [](rtt_samples& into, const rtt_samples& r) {
        into.us.insert(into.us.end(), r.us.begin(), r.us.end());
        into.timeouts += r.timeouts;
        into.errors += r.errors;
        into.host_cpu_s += r.host_cpu_s;
      };
      merge(lb, lb_r);
      merge(ded, ded_r);
      merge(raw, raw_r);
    }
    std::printf("\n%-46s %7s %11s %11s %9s %12s\n", "round trip under load (all rounds pooled)",
                "calls", "median", "p99", "timeouts", "host CPU/call");
    auto row = [](const char* what, const rtt_samples& s) {
      std::printf("%-46s %7zu %8.1f us %8.1f us %9zu %9.1f us\n", what, s.us.size(),
                  lbb::median(s.us), lbb::quantile(s.us, 0.99), s.timeouts,
                  s.us.empty() ? 0.0 : s.host_cpu_s * 1e6 / static_cast<double>(s.us.size()));
    };
    row("echo, default execution (scheduled)", lb);
    row("echo, dedicated thread", ded);
    row("raw mutex + condvar ping-pong, two threads", raw);
    std::printf("(host CPU per call includes the caller's random pause)\n");
    if (lb.errors + ded.errors + raw.errors)
      std::printf("errors other than timeouts: echo %zu, echo dedicated %zu, raw %zu\n", lb.errors,
                  ded.errors, raw.errors);
    if (lb.timeouts * 2 >= lb.us.size() && !lb.us.empty())
      std::printf("(half or more of the scheduled echo's calls timed out: its median is a lower "
                  "bound)\n");
    std::printf("background load: %.0f spin requests/s completed (median over rounds; %.0f would "
                "keep 2 instances busy), %llu failed; ran on %s\n",
                m(load_rate), 2 * 1e6 / static_cast<double>(work.count()),
                static_cast<unsigned long long>(load_failed), thread_mix(load_threads).c_str());
    std::printf("CPU by thread over the last round's measured window (%.2f s):\n", last_window);
    print_tasks(last_tasks, last_window, "  ");
    double lb_med = lbb::median(lb.us), ded_med = lbb::median(ded.us),
           raw_med = lbb::median(raw.us);
    rep.figure("isolation_echo_rtt_median", lb_med, "us");
    rep.figure("isolation_echo_rtt_p99", lbb::quantile(lb.us, 0.99), "us");
    rep.figure("isolation_echo_calls", static_cast<double>(lb.us.size()), "calls");
    rep.figure("isolation_echo_timeouts", static_cast<double>(lb.timeouts), "calls");
    rep.figure("isolation_echo_dedicated_rtt_median", ded_med, "us");
    rep.figure("isolation_echo_dedicated_rtt_p99", lbb::quantile(ded.us, 0.99), "us");
    rep.figure("isolation_raw_pingpong_rtt_median", raw_med, "us");
    rep.figure("isolation_raw_pingpong_rtt_p99", lbb::quantile(raw.us, 0.99), "us");
    rep.figure("isolation_background_spin", m(load_rate), "req/s");
    rep.ratio("isolation_echo_dedicated_over_raw_pingpong", ded_med / raw_med);
    rep.ratio("isolation_echo_over_raw_pingpong", lb_med / raw_med);
    rep.require("isolation: echo (scheduled) median <= 3 ms beside a busy spin pool",
                !lb.us.empty() && lb_med <= 3000);
    rep.require("isolation: echo (dedicated) median <= 1.5x a raw condvar ping-pong, same load",
                !ded.us.empty() && !raw.us.empty() && ded_med <= 1.5 * raw_med);
  }

  // -- 3 ------------------------------------------------------------------------------------------
  if (part(3)) {
    int rounds = quick ? 3 : 5;
    int rtt_n = quick ? 2000 : 10000;
    std::size_t total = quick ? 100000 : 500000;
    const char* py_args = quick ? "1000 5000" : "3000 20000";
    std::printf("\n[3] Bridge: echo (default execution) round trip, %d per contender, %d rounds; "
                "pipelined %zu requests with 1k in flight; Python EventThread with %s\n",
                rtt_n, rounds, total, py_args);
    std::vector<double> lb_med, lb_p99, lb_cpu, lb_host, caf_med, caf_p99, caf_cpu, py_med, py_cpu,
        tp, tp_cpu;
    for (int round = 0; round < rounds; ++round) {
      latency l, c;
      throughput t;
      double py = 0, pyc = 0;
      rotate(static_cast<std::size_t>(round),
             {[&] {
                runtime rt{kinds(), options()};
                rt.spawn("echo", "echo").value();
                auto h = rt.actor<echo>("echo").value();
                l = measure_rtt(
                    [&](std::int64_t i) {
                      if (!h.submit(echo_request{i}).get())
                        std::abort();
                    },
                    rtt_n);
                t = echo_pipelined(h, 1000, total);
              },
              [&] { c = raw_caf_rtt(rtt_n); },
              [&] {
                double c0 = lbb::cpu_seconds(RUSAGE_CHILDREN);
                auto r = lbb::run_python(lbb::bench_dir() + "/baselines/event_thread.py", py_args);
                double calls = 0;
                int a = 0, b = 0;
                if (std::sscanf(py_args, "%d %d", &a, &b) == 2)
                  calls = 200 + a + b; // warm-up, round trips, pipelined
                py = r.count("rtt_median_us") ? r["rtt_median_us"] : 0;
                pyc = (lbb::cpu_seconds(RUSAGE_CHILDREN) - c0) * 1e6 / calls;
              }});
      lb_med.push_back(l.median_us), lb_p99.push_back(l.p99_us), lb_cpu.push_back(l.cpu_us);
      lb_host.push_back(l.host_cpu_us);
      caf_med.push_back(c.median_us), caf_p99.push_back(c.p99_us), caf_cpu.push_back(c.cpu_us);
      if (py > 0)
        py_med.push_back(py), py_cpu.push_back(pyc);
      tp.push_back(t.per_s), tp_cpu.push_back(t.cpu_us);
      std::printf("round %d: loopbridge %.1f us (p99 %.1f, CPU %.1f us/call), raw CAF %.1f us "
                  "(p99 %.1f, CPU %.1f us/call), Python %.1f us; pipelined 1k %.0f/s (CPU %.2f "
                  "us/req)%s\n",
                  round + 1, l.median_us, l.p99_us, l.cpu_us, c.median_us, c.p99_us, c.cpu_us, py,
                  t.per_s, t.cpu_us, t.errors ? " ERRORS" : "");
      std::fflush(stdout);
    }
    double rtt = m(lb_med), caf_rtt = m(caf_med), py_rtt = m(py_med);
    std::printf("\n%-46s %10s %10s %14s\n", "round trip, one outstanding (medians)", "median",
                "p99", "CPU us/call");
    std::printf("%-46s %7.1f us %7.1f us %14.1f  (host thread %.1f)\n",
                "loopbridge host -> loop -> echo -> host", rtt, m(lb_p99), m(lb_cpu), m(lb_host));
    std::printf("%-46s %7.1f us %7.1f us %14.1f\n", "raw CAF scoped_actor request/receive", caf_rtt,
                m(caf_p99), m(caf_cpu));
    if (!py_med.empty())
      std::printf("%-46s %7.1f us %10s %14.1f  (whole script, incl. start-up)\n",
                  "Python EventThread run_coroutine_threadsafe", py_rtt, "", m(py_cpu));
    else
      std::printf("Python EventThread baseline unavailable (/usr/bin/python3)\n");
    std::printf("%-46s %10.0f /s, CPU %.2f us/req\n", "pipelined, 1 host thread, 1k in flight",
                m(tp), m(tp_cpu));
    rep.figure("bridge_rtt_median_loopbridge", rtt, "us");
    rep.figure("bridge_rtt_p99_loopbridge", m(lb_p99), "us");
    rep.figure("bridge_rtt_cpu_loopbridge", m(lb_cpu), "us/call");
    rep.figure("bridge_rtt_median_raw_caf", caf_rtt, "us");
    rep.figure("bridge_rtt_cpu_raw_caf", m(caf_cpu), "us/call");
    if (!py_med.empty())
      rep.figure("bridge_rtt_median_python_event_thread", py_rtt, "us");
    rep.figure("bridge_pipelined_1thread_1k", m(tp), "req/s");
    rep.figure("bridge_pipelined_1thread_1k_cpu", m(tp_cpu), "us/req");
    rep.ratio("bridge_rtt_raw_caf_over_loopbridge", caf_rtt / rtt);
    if (!py_med.empty())
      rep.ratio("bridge_rtt_python_over_loopbridge", py_rtt / rtt);
    rep.require("bridge: round trip >= 8x faster than raw CAF scoped_actor", caf_rtt / rtt >= 8);
    rep.require("bridge: round trip >= 6x faster than the Python EventThread",
                !py_med.empty() && py_rtt / rtt >= 6);
  }

  // -- 4 ------------------------------------------------------------------------------------------
  if (part(4)) {
    constexpr auto window = 2000ms;
    std::printf("\n[4] Idle: a runtime with an echo, a fetcher and a blocking pool after a few "
                "calls, then %.0f s alone; beside an idle raw CAF actor_system\n",
                std::chrono::duration<double>(window).count());
    idle_result lb_idle, caf_idle;
    {
      namespace fs = std::filesystem;
      auto dir = fs::temp_directory_path() / ("lb-parallel-" + std::to_string(::getpid()));
      fs::create_directories(dir);
      std::ofstream{dir / "hello.txt"} << std::string(1024, 'x');
      runtime rt{kinds(), options()};
      rt.spawn("origin", "http_origin", {{"root", dir.string()}}).value();
      rt.spawn("echo", "echo").value();
      rt.spawn("fetcher", "fetcher").value();
      rt.spawn("pool", "blocking").value();
      auto info = rt.ready_info("origin");
      // The origin announces its URL once ready; wait for it (bounded).
      for (int i = 0; i < 200 && info && !info->is_map(); ++i) {
        std::this_thread::sleep_for(10ms);
        info = rt.ready_info("origin");
      }
      for (int i = 0; i < 200 && info && info->is_map() && !info->as_map().count("url"); ++i) {
        std::this_thread::sleep_for(10ms);
        info = rt.ready_info("origin");
      }
      std::string url = info && info->is_map() && info->as_map().count("url")
                            ? info->as_map().at("url").as_string()
                            : std::string{};
      auto e = rt.actor<echo>("echo").value();
      auto f = rt.actor<fetcher>("fetcher").value();
      auto pool = rt.pool("pool").value();
      int ok = 0, tried = 0;
      for (int i = 0; i < 10; ++i) {
        ++tried, ok += e.call(echo_request{i}, 2s) ? 1 : 0;
        auto job = pool.offload([i] { return i * 2; });
        ++tried, ok += job.wait_for(2s) && job.get() ? 1 : 0;
        if (!url.empty()) {
          auto r = f.call(fetch_request::get(url + "/hello.txt"), 2s);
          ++tried, ok += r && r->status == 200 ? 1 : 0;
        }
      }
      std::printf("calls before idling: %d of %d answered%s\n", ok, tried,
                  url.empty() ? " (the origin gave no URL: no fetches)" : "");
      // The origin only served the fetches: stop it so its threads are not measured.
      rt.stop_actor("origin", 2s).wait_for(5s);
      std::this_thread::sleep_for(300ms); // let everything settle
      lb_idle = measure_idle(window);
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
    {
      caf::actor_system_config cfg;
      caf::actor_system sys{cfg};
      auto echo_actor =
          sys.spawn([]() -> caf::behavior { return {[](std::int64_t x) { return x; }}; });
      {
        caf::scoped_actor self{sys};
        for (std::int64_t i = 0; i < 10; ++i)
          self->request(echo_actor, std::chrono::seconds(2), i)
              .receive([](std::int64_t) {}, [](caf::error&) {});
      }
      std::this_thread::sleep_for(300ms);
      caf_idle = measure_idle(window);
      caf::anon_send_exit(echo_actor, caf::exit_reason::user_shutdown);
    }
    std::printf("loopbridge runtime, idle, by thread:\n");
    print_tasks(lb_idle.tasks, std::chrono::duration<double>(window).count(), "  ");
    std::printf("raw CAF actor_system (defaults), idle, by thread:\n");
    print_tasks(caf_idle.tasks, std::chrono::duration<double>(window).count(), "  ");
    std::printf("\n%-46s %10s %10s %10s\n", "idle CPU, % of one core", "stat", "schedstat",
                "getrusage");
    std::printf("%-46s %10.2f %10.2f %10.2f\n", "loopbridge (echo, fetcher, blocking pool)",
                lb_idle.stat_percent, lb_idle.sched_percent, lb_idle.rusage_percent);
    std::printf("%-46s %10.2f %10.2f %10.2f\n", "raw CAF actor_system, one actor",
                caf_idle.stat_percent, caf_idle.sched_percent, caf_idle.rusage_percent);
    rep.figure("idle_cpu_percent", lb_idle.stat_percent, "%");
    rep.figure("idle_cpu_percent_schedstat", lb_idle.sched_percent, "%");
    rep.figure("idle_cpu_percent_raw_caf", caf_idle.stat_percent, "%");
  }

  rep.print();
  return 0;
}
