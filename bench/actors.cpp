// bench/actors: what many actors cost — spawn until ready, memory per idle instance, one echo
// each, lookups by name, stop — beside raw CAF 0.17 in the same run:
//
//  - caf-flat N: raw CAF, N event-based actors (a function returning a behavior) spawned from
//    the host; each counts itself ready in its init, and the last one wakes the host. Then a
//    scoped_actor sends each one message, each replies, the scoped_actor receives the N
//    replies; then every actor gets an exit message and the host waits until all are gone.
//  - caf-tree: the shape of CAF's actor_creation benchmark: a binary tree of 2^20 - 1 actors
//    (20 levels), each inner actor spawning two children and replying to its parent with its
//    subtree's count once both children replied; timed from the root's spawn to its reply.
//  - loopbridge-pool N: one actor of the built-in `echo` kind with `count` N, started with
//    `rt.start` (returns once every instance is ready); then N echo requests to the pool
//    (64k in flight; instances cannot be addressed, so the replies' `instance` fields say how
//    many distinct instances answered); then `rt.stop()` and its shutdown report.
//  - loopbridge-named N: N one-instance `echo` actors spawned from the host in a loop with
//    `rt.spawn`, ready when N `ready` events arrived (one inbox subscribed before); then N
//    lookups by name (`rt.actor<echo>(name)`, one host thread), one echo request to each, and
//    `rt.stop()`.
//
// Each measurement runs in a child process of its own (this program with `--one CONTENDER N`)
// so its RSS starts clean: memory per instance is the growth of the resident set
// (/proc/self/statm) from just before the spawn until all are ready, divided by N. The parent
// runs the contenders of each size in turns (the first one rotating round to round; the tree
// joins the turns at the largest size; named 1M runs once: about 100 s and 8 GB), collects
// the children's `result` lines and prints medians, the curve over sizes, the bars and the
// `figure`/`ratio` lines. CPU per instance is the child's process CPU (getrusage: every
// thread) over the same stretch.
//
// One runtime setting differs from its default: `runtime_options::shutdown_budget`, here 120 s
// (so a slow stop is measured, not cut off; stopping 1M named actors took longer than the
// default 10 s).
// Everything else is the default, for loopbridge and for CAF alike.
//
// usage: actors [--quick]          (quick: 10k and 100k, 3 rounds, the tree once;
//                                   full: 10k, 100k 5 rounds; 1M 3 rounds)
//        actors --one CONTENDER N  (one measurement; prints a `result` line)
#include <caf/all.hpp>

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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

// -- what every child measures --------------------------------------------------------------------

/// Resident set size of this process in bytes (/proc/self/statm, second field).
double rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  unsigned long long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

/// Peak resident set size (VmHWM) in bytes.
double peak_rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr) * 1024.0;
  return 0;
}

double ms_since(lbb::clock::time_point t0) {
  return lbb::seconds_since(t0) * 1e3;
}

/// One child's measurements, printed as `result key value ...` for the parent.
class result_line {
public:
  void set(const std::string& key, double v) { values_.emplace_back(key, v); }
  void print() const {
    std::printf("result");
    for (auto& [k, v] : values_)
      std::printf(" %s %.10g", k.c_str(), v);
    std::printf("\n");
    std::fflush(stdout);
  }

private:
  std::vector<std::pair<std::string, double>> values_;
};

/// Waits until `target` things counted themselves; the one that completes the count wakes it.
class countdown {
public:
  explicit countdown(std::size_t target) : left_(target) {}
  void count_one() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> guard{mutex_};
      done_ = true;
      cv_.notify_all();
    }
  }
  bool wait_for(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock{mutex_};
    return cv_.wait_for(lock, limit, [this] { return done_; });
  }

private:
  std::atomic<std::size_t> left_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

// -- raw CAF: flat spawn --------------------------------------------------------------------------

caf::behavior flat_actor(caf::event_based_actor*, countdown* ready) {
  ready->count_one();
  return {[](std::int64_t x) { return x; }}; // the reply goes to the sender
}

result_line caf_flat(std::size_t n) {
  result_line out;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;
  actors.reserve(n);
  countdown ready{n};
  double rss0 = rss_bytes();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  for (std::size_t i = 0; i < n; ++i)
    actors.push_back(sys.spawn(flat_actor, &ready));
  double spawn_ms = ms_since(t0);
  bool all_ready = ready.wait_for(600s);
  out.set("ready_ms", ms_since(t0));
  out.set("spawn_calls_ms", spawn_ms);
  out.set("ready_cpu_s", cpu.process_s());
  out.set("ready", all_ready ? static_cast<double>(n) : 0);
  out.set("rss_per_instance", (rss_bytes() - rss0) / static_cast<double>(n));

  std::size_t answered = 0;
  {
    lbb::cpu_meter echo_cpu;
    auto t1 = lbb::clock::now();
    caf::scoped_actor self{sys};
    for (std::size_t i = 0; i < n; ++i)
      self->send(actors[i], static_cast<std::int64_t>(i));
    std::vector<bool> seen(n);
    bool timed_out = false;
    while (answered < n && !timed_out)
      self->receive(
          [&](std::int64_t x) {
            auto i = static_cast<std::size_t>(x);
            if (i < n && !seen[i]) {
              seen[i] = true;
              ++answered;
            }
          },
          caf::after(std::chrono::seconds(60)) >> [&] { timed_out = true; });
    out.set("echo_ms", ms_since(t1));
    out.set("echo_cpu_s", echo_cpu.process_s());
  }
  out.set("answered", static_cast<double>(answered));
  out.set("distinct", static_cast<double>(answered));

  lbb::cpu_meter stop_cpu;
  auto t2 = lbb::clock::now();
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  actors.clear();
  sys.await_all_actors_done();
  out.set("stop_ms", ms_since(t2));
  out.set("stop_cpu_s", stop_cpu.process_s());
  out.set("stop_clean", 1);
  return out;
}

// -- raw CAF: actor_creation's tree ---------------------------------------------------------------

struct tree_state {
  caf::actor parent;
  std::int64_t count = 1; // this actor
  int replies = 0;
};

/// An actor at `depth` of a tree with `levels` levels: a leaf replies 1 to its parent; an inner
/// actor spawns two children and replies 1 + their counts once both replied.
caf::behavior tree_node(caf::stateful_actor<tree_state>* self, caf::actor parent, int depth,
                        int levels) {
  if (depth + 1 == levels) {
    self->send(parent, std::int64_t{1});
    return {}; // no behavior: the actor terminates
  }
  self->state.parent = std::move(parent);
  auto me = caf::actor_cast<caf::actor>(self);
  for (int i = 0; i < 2; ++i)
    self->spawn(tree_node, me, depth + 1, levels);
  return {
      [self](std::int64_t sub) {
        self->state.count += sub;
        if (++self->state.replies == 2) {
          self->send(self->state.parent, self->state.count);
          self->quit();
        }
      },
  };
}

result_line caf_tree(int levels) {
  result_line out;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  double rss0 = rss_bytes();
  std::int64_t count = 0;
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  {
    caf::scoped_actor self{sys};
    sys.spawn(tree_node, caf::actor_cast<caf::actor>(self), 0, levels);
    self->receive([&](std::int64_t n) { count = n; },
                  caf::after(std::chrono::seconds(300)) >> [] {});
  }
  out.set("tree_ms", ms_since(t0));
  out.set("tree_cpu_s", cpu.process_s());
  out.set("actors", static_cast<double>(count));
  out.set("peak_rss_growth", peak_rss_bytes() - rss0);
  sys.await_all_actors_done();
  return out;
}

// -- loopbridge -----------------------------------------------------------------------------------

/// The runtime's settings for every loopbridge contender: defaults, but a shutdown budget long
/// enough that a slow stop is measured rather than cut off.
runtime_options options() {
  runtime_options o;
  o.shutdown_budget = 120s;
  return o;
}

actor_spec echo_spec(std::string name, std::uint32_t count) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = "echo";
  s.count = count;
  return s;
}

/// One echo request to each handle of `targets` (all the same handle for a pool), 64k in
/// flight; sets `answered` and, from the replies' `instance` fields, `distinct` for a pool.
void echo_each(const std::vector<actor_handle<echo>>& targets, std::size_t n, bool pool,
               result_line& out) {
  constexpr std::size_t window = 1u << 16;
  std::deque<future<echo_reply>> inflight;
  std::vector<bool> seen(pool ? n : 0);
  std::size_t sent = 0, answered = 0, distinct = 0;
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto submit = [&] {
    auto& h = targets[pool ? 0 : sent];
    inflight.push_back(h.submit(echo_request{static_cast<std::int64_t>(sent)}, 120s));
    ++sent;
  };
  while (sent < n && inflight.size() < window)
    submit();
  while (!inflight.empty()) {
    auto r = inflight.front().get();
    inflight.pop_front();
    if (r) {
      ++answered;
      if (pool && r->instance < n && !seen[r->instance]) {
        seen[r->instance] = true;
        ++distinct;
      }
    }
    if (sent < n)
      submit();
  }
  out.set("echo_ms", ms_since(t0));
  out.set("echo_cpu_s", cpu.process_s());
  out.set("answered", static_cast<double>(answered));
  out.set("distinct", static_cast<double>(pool ? distinct : answered));
}

void record_stop(runtime& rt, result_line& out) {
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto& rep = rt.stop();
  out.set("stop_ms", ms_since(t0));
  out.set("stop_cpu_s", cpu.process_s());
  out.set("stop_report_ms", std::chrono::duration<double, std::milli>(rep.took).count());
  out.set("stop_clean", rep.clean() ? 1 : 0);
  out.set("stop_cancelled", static_cast<double>(rep.cancelled()));
  out.set("stop_stuck", static_cast<double>(rep.stuck.size() + (rep.loop_stuck ? 1 : 0)));
  out.set("stopped_actors", static_cast<double>(rep.actors.size()));
}

result_line loopbridge_pool(std::size_t n) {
  result_line out;
  runtime rt{actors::builtin_kinds(), options()};
  double rss0 = rss_bytes();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  auto ok = rt.start({echo_spec("pool", static_cast<std::uint32_t>(n))});
  out.set("ready_ms", ms_since(t0));
  out.set("ready_cpu_s", cpu.process_s());
  out.set("ready", ok ? static_cast<double>(n) : 0);
  out.set("rss_per_instance", (rss_bytes() - rss0) / static_cast<double>(n));
  if (!ok) {
    std::fprintf(stderr, "loopbridge-pool %zu: %s\n", n, ok.error().message().c_str());
    out.set("answered", 0);
    record_stop(rt, out);
    return out;
  }
  echo_each({rt.actor<echo>("pool").value()}, n, true, out);
  out.set("rss_per_instance_after_echo", (rss_bytes() - rss0) / static_cast<double>(n));
  record_stop(rt, out);
  return out;
}

result_line loopbridge_named(std::size_t n) {
  result_line out;
  runtime rt{actors::builtin_kinds(), options()};
  std::vector<std::string> names;
  names.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    names.push_back("echo." + std::to_string(i));
  subscription sub;
  sub.types = {event_type::ready, event_type::start_failed};
  sub.capacity = n + 16;
  auto inbox = rt.subscribe(sub);
  double rss0 = rss_bytes();
  lbb::cpu_meter cpu;
  auto t0 = lbb::clock::now();
  std::size_t refused = 0;
  for (auto& name : names)
    if (!rt.spawn(echo_spec(name, 1)))
      ++refused;
  out.set("spawn_calls_ms", ms_since(t0));
  std::size_t ready = 0, failed = 0;
  auto until = lbb::clock::now() + 600s;
  while (ready + failed + refused < n && lbb::clock::now() < until) {
    auto e = inbox.next(until - lbb::clock::now());
    if (!e)
      break;
    if (std::holds_alternative<ready_event>(*e))
      ++ready;
    else if (std::holds_alternative<start_failed_event>(*e))
      ++failed;
  }
  out.set("ready_ms", ms_since(t0));
  out.set("ready_cpu_s", cpu.process_s());
  out.set("ready", static_cast<double>(ready));
  out.set("rss_per_instance", (rss_bytes() - rss0) / static_cast<double>(n));
  if (refused + failed)
    std::fprintf(stderr, "loopbridge-named %zu: %zu refused, %zu failed to start\n", n, refused,
                 failed);

  std::vector<actor_handle<echo>> handles;
  handles.reserve(n);
  std::size_t found = 0;
  lbb::cpu_meter lookup_cpu;
  auto t1 = lbb::clock::now();
  for (auto& name : names)
    if (auto h = rt.actor<echo>(name))
      ++found;
  out.set("lookup_ms", ms_since(t1));
  out.set("lookup_cpu_s", lookup_cpu.process_s());
  out.set("found", static_cast<double>(found));
  for (auto& name : names)
    if (auto h = rt.actor<echo>(name))
      handles.push_back(std::move(*h));
  if (handles.size() == n)
    echo_each(handles, n, false, out);
  else
    out.set("answered", 0);
  handles.clear();
  out.set("rss_per_instance_after_echo", (rss_bytes() - rss0) / static_cast<double>(n));
  record_stop(rt, out);
  return out;
}

int run_one(const std::string& contender, std::size_t n) {
  ::alarm(900); // a stuck child must not hang the run
  result_line r;
  if (contender == "caf-flat")
    r = caf_flat(n);
  else if (contender == "caf-tree")
    r = caf_tree(static_cast<int>(n));
  else if (contender == "loopbridge-pool")
    r = loopbridge_pool(n);
  else if (contender == "loopbridge-named")
    r = loopbridge_named(n);
  else {
    std::fprintf(stderr, "unknown contender %s\n", contender.c_str());
    return 2;
  }
  r.print();
  return 0;
}

// -- the parent -----------------------------------------------------------------------------------

using sample = std::map<std::string, double>;

/// Runs this program as `--one contender n` in a child process and returns its `result` line
/// (empty if the child failed). Other output of the child goes to stderr.
sample run_child(const std::string& contender, std::size_t n) {
  int fds[2];
  if (::pipe(fds) != 0)
    return {};
  auto arg = std::to_string(n);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const char* argv[] = {"actors", "--one", contender.c_str(), arg.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    std::_Exit(127);
  }
  ::close(fds[1]);
  sample out;
  std::string text;
  char buf[4096];
  for (ssize_t k; (k = ::read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(k));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    if (line.rfind("result ", 0) != 0) {
      std::fprintf(stderr, "  %s: %s\n", contender.c_str(), line.c_str());
      continue;
    }
    char key[128];
    double v = 0;
    int used = 0;
    const char* p = line.c_str() + 7;
    while (std::sscanf(p, "%127s %lf%n", key, &v, &used) == 2) {
      out[key] = v;
      p += used;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "  %s %zu: child %s %d\n", contender.c_str(), n,
                 WIFSIGNALED(status) ? "killed by signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return {};
  }
  return out;
}

std::string size_label(std::size_t n) {
  if (n >= 1000000 && n % 1000000 == 0)
    return std::to_string(n / 1000000) + "m";
  if (n >= 1000 && n % 1000 == 0)
    return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

std::string size_text(std::size_t n) {
  auto s = size_label(n);
  if (!s.empty() && s.back() == 'm')
    s.back() = 'M';
  return s;
}

/// The samples of one contender at one size, and their medians.
struct series {
  std::vector<sample> runs;
  std::size_t failed = 0;
  double med(const std::string& key) const {
    std::vector<double> xs;
    for (auto& r : runs)
      if (auto it = r.find(key); it != r.end())
        xs.push_back(it->second);
    return lbb::median(xs);
  }
  double min(const std::string& key) const {
    double m = 0;
    bool first = true;
    for (auto& r : runs)
      if (auto it = r.find(key); it != r.end()) {
        m = first ? it->second : std::min(m, it->second);
        first = false;
      }
    return m;
  }
  bool has(const std::string& key) const {
    for (auto& r : runs)
      if (r.count(key))
        return true;
    return false;
  }
};

const char* const contenders[] = {"caf-flat", "loopbridge-pool", "loopbridge-named"};

void print_run(int round, std::size_t n, const std::string& who, const sample& s) {
  if (s.empty()) {
    std::printf("round %d, %s %s: FAILED (see stderr)\n", round, size_text(n).c_str(), who.c_str());
    return;
  }
  auto get = [&](const char* k) {
    auto it = s.find(k);
    return it == s.end() ? 0.0 : it->second;
  };
  auto dn = static_cast<double>(n);
  std::printf("round %d, %-4s %-16s ready %9.1f ms (%5.2f us/inst, CPU %5.2f us), %6.2f KiB/inst"
              ", echo %7.0f/%zu answered (%.0f distinct) in %8.1f ms, stop %8.1f ms%s",
              round, size_text(n).c_str(), who.c_str(), get("ready_ms"), get("ready_ms") * 1e3 / dn,
              get("ready_cpu_s") * 1e6 / dn, get("rss_per_instance") / 1024, get("answered"), n,
              get("distinct"), get("echo_ms"), get("stop_ms"),
              get("stop_clean") ? "" : " NOT CLEAN");
  if (s.count("lookup_ms"))
    std::printf(", lookups %.1f ms", get("lookup_ms"));
  std::printf("\n");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--one") == 0)
    return run_one(argv[2], std::stoul(argv[3]));
  bool quick = lbb::quick_mode(argc, argv);
  std::vector<std::size_t> sizes = quick ? std::vector<std::size_t>{10000, 100000}
                                         : std::vector<std::size_t>{10000, 100000, 1000000};
  auto rounds_for = [&](std::size_t n) { return quick ? 3 : n >= 1000000 ? 3 : 5; };
  constexpr int tree_levels = 20;
  int tree_rounds = quick ? 1 : 3;
  std::printf("actors: %zu sizes, %s; each measurement in a child process of its own; "
              "contenders of a size in turns%s\n",
              sizes.size(), quick ? "3 rounds each" : "5 rounds (1M: 3; named 1M: 1)",
              quick ? " (quick)" : "");
  std::fflush(stdout);

  std::map<std::pair<std::string, std::size_t>, series> results;
  series tree;
  auto t_all = lbb::clock::now();
  for (auto n : sizes) {
    // At the largest size, actor_creation's tree (always 2^20 - 1 actors) takes turns too.
    bool with_tree = n == sizes.back();
    std::printf("\n[%s instances%s]\n", size_text(n).c_str(),
                with_tree ? "; raw CAF's actor_creation tree of 2^20 - 1 actors in turns" : "");
    for (int round = 0; round < rounds_for(n); ++round) {
      std::vector<std::string> turn{std::begin(contenders), std::end(contenders)};
      if (with_tree && round < tree_rounds)
        turn.push_back("caf-tree");
      for (std::size_t j = 0; j < turn.size(); ++j) {
        auto who = turn[(static_cast<std::size_t>(round) + j) % turn.size()];
        if (who == "loopbridge-named" && n >= 1000000 && round > 0)
          continue; // about 100 s and 8 GB a run: one run for the curve
        if (who == "caf-tree") {
          auto s = run_child(who, tree_levels);
          if (s.empty()) {
            ++tree.failed;
            std::printf("round %d, caf-tree: FAILED\n", round + 1);
            continue;
          }
          tree.runs.push_back(s);
          std::printf("round %d, 2^20 caf-tree         %.0f actors in %.1f ms (%.2f us/actor, CPU "
                      "%.2f us/actor), peak RSS growth %.1f MiB\n",
                      round + 1, s["actors"], s["tree_ms"], s["tree_ms"] * 1e3 / s["actors"],
                      s["tree_cpu_s"] * 1e6 / s["actors"], s["peak_rss_growth"] / 1048576);
          std::fflush(stdout);
          continue;
        }
        auto s = run_child(who, n);
        auto& ser = results[{who, n}];
        if (s.empty())
          ++ser.failed;
        else
          ser.runs.push_back(s);
        print_run(round + 1, n, who, s);
      }
    }
  }

  // -- the table ----------------------------------------------------------------------------------
  std::printf("\nmedians over rounds (wall and CPU per instance over spawn until all ready; KiB: "
              "RSS growth per idle instance)\n");
  std::printf("%-18s %5s %11s %9s %9s %8s %11s %9s %10s %10s\n", "contender", "N", "ready ms",
              "us/inst", "CPU us", "KiB", "answered", "distinct", "stop ms", "lookup ms");
  for (auto n : sizes)
    for (auto* who : contenders) {
      auto& s = results[{who, n}];
      if (s.runs.empty()) {
        std::printf("%-18s %5s   (every run failed)\n", who, size_text(n).c_str());
        continue;
      }
      auto dn = static_cast<double>(n);
      std::printf("%-18s %5s %11.1f %9.2f %9.2f %8.2f %11.0f %9.0f %10.1f", who,
                  size_text(n).c_str(), s.med("ready_ms"), s.med("ready_ms") * 1e3 / dn,
                  s.med("ready_cpu_s") * 1e6 / dn, s.med("rss_per_instance") / 1024,
                  s.min("answered"), s.med("distinct"), s.med("stop_ms"));
      if (s.has("lookup_ms"))
        std::printf(" %10.1f", s.med("lookup_ms"));
      std::printf("%s\n", s.failed ? "  (some runs failed)" : "");
    }
  if (!tree.runs.empty())
    std::printf("%-18s %5s %11.1f %9.2f %9.2f %8s   (spawn, count and quit; peak RSS growth "
                "%.1f MiB)\n",
                "caf-tree", "2^20", tree.med("tree_ms"),
                tree.med("tree_ms") * 1e3 / tree.med("actors"),
                tree.med("tree_cpu_s") * 1e6 / tree.med("actors"), "-",
                tree.med("peak_rss_growth") / 1048576);

  std::printf("\nthe curve: spawn until all ready, ms (x the size before)\n");
  std::printf("%-18s", "contender");
  for (auto n : sizes)
    std::printf(" %18s", size_text(n).c_str());
  std::printf("\n");
  for (auto* who : contenders) {
    std::printf("%-18s", who);
    double prev = 0;
    for (auto n : sizes) {
      double v = results[{who, n}].med("ready_ms");
      if (prev > 0)
        std::printf(" %10.1f (x%5.2f)", v, v / prev);
      else
        std::printf(" %18.1f", v);
      prev = v;
    }
    std::printf("\n");
  }
  std::printf("(x10 per step is linear)\n");

  // -- bars, figures, ratios ----------------------------------------------------------------------
  lbb::report rep;
  auto big = sizes.back();
  const std::size_t named_n = 100000;
  auto& pool_big = results[{"loopbridge-pool", big}];
  auto& caf_big = results[{"caf-flat", big}];
  auto& named = results[{"loopbridge-named", named_n}];
  auto& caf_named_n = results[{"caf-flat", named_n}];
  auto& pool_prev = results[{"loopbridge-pool", sizes[sizes.size() - 2]}];
  auto L = size_label(big), Lprev = size_label(sizes[sizes.size() - 2]);
  auto per_inst = [](const series& s, std::size_t n, const char* key) {
    return s.med(key) / static_cast<double>(n);
  };

  for (auto n : sizes)
    for (auto* who : contenders) {
      auto& s = results[{who, n}];
      if (s.runs.empty())
        continue;
      std::string base = std::string{who} + "_" + size_label(n);
      for (auto& c : base)
        if (c == '-')
          c = '_';
      rep.figure(base + "_ready", s.med("ready_ms"), "ms");
      rep.figure(base + "_ready_cpu_per_instance", per_inst(s, n, "ready_cpu_s") * 1e6, "us");
      rep.figure(base + "_rss_per_instance", s.med("rss_per_instance") / 1024, "KiB");
      rep.figure(base + "_stop", s.med("stop_ms"), "ms");
    }
  if (!tree.runs.empty()) {
    rep.figure("caf_tree_2p20", tree.med("tree_ms"), "ms");
    rep.figure("caf_tree_2p20_cpu_per_actor", tree.med("tree_cpu_s") * 1e6 / tree.med("actors"),
               "us");
  }
  bool have_pool = !pool_big.runs.empty() && !caf_big.runs.empty();
  bool have_named = !named.runs.empty() && !caf_named_n.runs.empty();
  double pool_ratio = have_pool ? pool_big.med("ready_ms") / caf_big.med("ready_ms") : 0;
  double pool_ratio_cpu = have_pool ? pool_big.med("ready_cpu_s") / caf_big.med("ready_cpu_s") : 0;
  double named_ratio = have_named ? named.med("ready_ms") / caf_named_n.med("ready_ms") : 0;
  double named_ratio_cpu =
      have_named ? named.med("ready_cpu_s") / caf_named_n.med("ready_cpu_s") : 0;
  double kib_pooled = pool_big.med("rss_per_instance") / 1024;
  double kib_named = named.med("rss_per_instance") / 1024;
  double lookups = named.med("lookup_ms");
  double curve = !pool_prev.runs.empty() && !pool_big.runs.empty()
                     ? pool_big.med("ready_ms") / pool_prev.med("ready_ms")
                     : 0;
  double stop_s = pool_big.med("stop_ms") / 1e3;
  rep.figure("lookups_" + size_label(named_n) + "_ms", lookups, "ms");
  rep.figure("kib_per_pooled", kib_pooled, "KiB");
  rep.figure("kib_per_named", kib_named, "KiB");
  rep.figure("pool_" + L + "_distinct_instances_answered", pool_big.med("distinct"), "instances");
  if (!tree.runs.empty() && !pool_big.runs.empty())
    rep.ratio("pool_" + L + "_over_caf_tree_2p20", pool_big.med("ready_ms") / tree.med("tree_ms"));
  rep.ratio("pool_" + L + "_over_caf_" + L, pool_ratio);
  rep.ratio("pool_" + L + "_over_caf_" + L + "_by_cpu", pool_ratio_cpu);
  rep.ratio("named_" + size_label(named_n) + "_over_caf_" + size_label(named_n), named_ratio);
  rep.ratio("named_" + size_label(named_n) + "_over_caf_" + size_label(named_n) + "_by_cpu",
            named_ratio_cpu);
  rep.ratio("pool_" + L + "_over_pool_" + Lprev, curve);

  auto S = size_text(big), Sn = size_text(named_n);
  const char* at_quick = quick ? " [quick: the bar is at 1M]" : "";
  rep.require("pool " + S + ": spawn + all ready <= 1.5x raw CAF's flat " + S + " (" +
                  std::to_string(pool_ratio).substr(0, 5) + "x)" + at_quick,
              have_pool && pool_ratio <= 1.5);
  rep.require("pool " + S + ": the same by CPU time <= 1.5x (" +
                  std::to_string(pool_ratio_cpu).substr(0, 5) + "x)" + at_quick,
              have_pool && pool_ratio_cpu <= 1.5);
  rep.require("pool " + S + ": " + S + " echo requests all answered (instances cannot be " +
                  "addressed; " + std::to_string(static_cast<long>(pool_big.med("distinct"))) +
                  " distinct instances answered)",
              !pool_big.runs.empty() && pool_big.min("answered") >= static_cast<double>(big));
  rep.require("pool " + S + ": stop <= 3 s, clean (" + std::to_string(stop_s).substr(0, 5) + " s)" +
                  at_quick,
              !pool_big.runs.empty() && stop_s <= 3 && pool_big.min("stop_clean") == 1);
  rep.require("pool " + S + ": <= 2 KiB RSS per idle pooled instance (" +
                  std::to_string(kib_pooled).substr(0, 5) + " KiB)",
              !pool_big.runs.empty() && kib_pooled <= 2);
  rep.require("named " + Sn + ": <= 3 KiB RSS per idle named actor (" +
                  std::to_string(kib_named).substr(0, 5) + " KiB)",
              !named.runs.empty() && kib_named <= 3);
  rep.require("named " + Sn + ": spawn + all ready <= 2x raw CAF's flat " + Sn + " (" +
                  std::to_string(named_ratio).substr(0, 5) + "x)",
              have_named && named_ratio <= 2);
  rep.require("named " + Sn + ": the same by CPU time <= 2x (" +
                  std::to_string(named_ratio_cpu).substr(0, 5) + "x)",
              have_named && named_ratio_cpu <= 2);
  rep.require("named " + Sn + ": " + Sn + " lookups by name <= 50 ms (" +
                  std::to_string(lookups).substr(0, 5) + " ms)",
              !named.runs.empty() && lookups <= 50);
  rep.require("pool: spawn + ready " + S + " / " + size_text(sizes[sizes.size() - 2]) + " <= 12 (" +
                  std::to_string(curve).substr(0, 5) + ")" + at_quick,
              curve > 0 && curve <= 12);
  std::printf("\nwhole run: %.0f s\n", lbb::seconds_since(t_all));
  rep.print();
  return 0;
}
