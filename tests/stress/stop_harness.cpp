// The randomized stop harness: for each seed, a random topology (echo pools of each execution,
// every overflow policy, routes, restarts, blocking pools with offloads, pulled streams,
// deliveries, a fan actor whose handlers ask echo actors and answer from continuations, and
// sometimes a task that ignores its cancel token), random load from several
// host threads, and a stop at a random moment with a random budget. Each run checks outcomes,
// never timings beyond a hang limit:
//
// - every future the load made is resolved by the time `stop()` returns, exactly once;
// - what the futures got, the actors' metrics and the shutdown report agree;
// - no runtime thread is left but the stuck ones the harness made, and the report names them;
// - `stop()` returned (how far past its budget is printed: `scripts/stress` summarises it).
//
// A seed reproduces the topology, the load's choices and the stop point, not the threads'
// interleaving. Usage: loopbridge_stress [--seeds FIRST..LAST] [--verbose]
// Exit status 0 when every seed passed; each failure prints its seed and what broke.
#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "loopbridge/actors/blocking.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/stream.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// -- the plan a seed makes ------------------------------------------------------------------------

/// Something the load does, drawn per step.
enum class action {
  submit,
  cancel_submit,
  short_deadline,
  pipeline,
  offload,
  stream,
  deliver,
  fan_out
};

struct echo_plan {
  std::string name;
  std::uint32_t count = 1;
  bool dedicated = false;
  std::chrono::microseconds delay{0};
  std::chrono::microseconds block{0};
  std::int64_t fail_every = 0;
  std::int64_t crash_every = 0;
  overflow_policy overflow = overflow_policy::block;
  std::size_t capacity = 0;    ///< 0: the default
  bool pipeline_entry = false; ///< routes to `next`, takes no direct load
  bool pipeline_stage = false; ///< is routed to, takes no direct load
};

struct plan {
  std::uint64_t seed = 0;
  std::vector<echo_plan> echoes;
  std::uint32_t pool_threads = 2;
  int host_threads = 1;
  std::chrono::milliseconds load{0};   ///< how long the load runs before the stop
  std::chrono::milliseconds budget{0}; ///< the stop's budget
  std::vector<action> actions;         ///< the mix the load draws from
  bool stuck_task = false;             ///< an offload_separate that ignores its token
  std::uint32_t fans = 0;              ///< instances of the fan actor (0: none)
  bool fan_dedicated = false;          ///< the fan actor's instances have threads of their own

  std::string describe() const {
    std::string s = "seed " + std::to_string(seed) + ": " + std::to_string(host_threads) +
                    " host threads, load " + std::to_string(load.count()) + " ms, budget " +
                    std::to_string(budget.count()) + " ms, pool " + std::to_string(pool_threads) +
                    (stuck_task ? ", a stuck task" : "") +
                    (fans ? ", fan x" + std::to_string(fans) + (fan_dedicated ? " dedicated" : "")
                          : std::string{}) +
                    "; echoes:";
    for (auto& e : echoes)
      s += " " + e.name + "(x" + std::to_string(e.count) + (e.dedicated ? " dedicated" : "") +
           (e.pipeline_entry   ? " entry"
            : e.pipeline_stage ? " stage"
                               : "") +
           ")";
    return s;
  }
};

plan make_plan(std::uint64_t seed) {
  std::mt19937_64 rng{seed};
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>{lo, hi}(rng); };
  auto chance = [&](double p) { return std::bernoulli_distribution{p}(rng); };
  plan p;
  p.seed = seed;
  int n = pick(1, 4);
  for (int i = 0; i < n; ++i) {
    echo_plan e;
    e.name = "echo" + std::to_string(i);
    e.count = static_cast<std::uint32_t>(pick(1, 4));
    e.dedicated = chance(0.4);
    e.delay = std::chrono::microseconds{chance(0.5) ? pick(0, 2000) : 0};
    if (e.dedicated && chance(0.5))
      e.block = std::chrono::microseconds{pick(0, 3000)};
    e.fail_every = chance(0.3) ? pick(2, 10) : 0;
    e.crash_every = chance(0.2) ? pick(3, 20) : 0;
    switch (pick(0, 2)) {
      case 0:
        e.overflow = overflow_policy::block;
        break;
      case 1:
        e.overflow = overflow_policy::reject;
        break;
      default:
        e.overflow = overflow_policy::drop_oldest;
        break;
    }
    e.capacity = chance(0.5) ? static_cast<std::size_t>(pick(4, 200)) : 0;
    p.echoes.push_back(e);
  }
  if (chance(0.4)) { // a two-stage pipeline of its own
    echo_plan a;
    a.name = "entry";
    a.count = static_cast<std::uint32_t>(pick(1, 3));
    a.dedicated = chance(0.5);
    a.delay = std::chrono::microseconds{pick(0, 1000)};
    a.pipeline_entry = true;
    a.overflow = overflow_policy::block;
    echo_plan b = a;
    b.name = "stage";
    b.pipeline_entry = false;
    b.pipeline_stage = true;
    b.dedicated = chance(0.5);
    b.fail_every = chance(0.3) ? pick(2, 10) : 0;
    b.overflow = chance(0.5) ? overflow_policy::block : overflow_policy::reject;
    b.capacity = chance(0.5) ? static_cast<std::size_t>(pick(2, 50)) : 0;
    p.echoes.push_back(a);
    p.echoes.push_back(b);
  }
  p.pool_threads = static_cast<std::uint32_t>(pick(1, 4));
  p.host_threads = pick(1, 8);
  p.load = std::chrono::milliseconds{pick(0, 150)};
  p.budget = std::chrono::milliseconds{pick(10, 300)};
  p.actions = {action::submit, action::submit, action::submit, action::cancel_submit,
               action::short_deadline};
  if (std::any_of(p.echoes.begin(), p.echoes.end(), [](auto& e) { return e.pipeline_entry; }))
    p.actions.push_back(action::pipeline);
  if (chance(0.5))
    p.actions.push_back(action::offload);
  if (chance(0.3))
    p.actions.push_back(action::stream);
  if (chance(0.3))
    p.actions.push_back(action::deliver);
  p.stuck_task = chance(0.1);
  if (chance(0.5)) { // actor-to-actor traffic: drawn last, so earlier draws keep their meaning
    p.fans = static_cast<std::uint32_t>(pick(1, 3));
    p.fan_dedicated = chance(0.4);
    p.actions.push_back(action::fan_out);
    p.actions.push_back(action::fan_out);
  }
  return p;
}

// -- what the load made ---------------------------------------------------------------------------

/// How a future ended, as the host saw it.
enum class ended { completed, failed, cancelled };

ended classify(const error& e) {
  return e.is(errc::cancelled) || e.is(errc::stopped) ? ended::cancelled : ended::failed;
}

/// One future the load made, erased to what the checks need.
struct tracked {
  std::string target;    ///< the actor it went to directly ("" for pipelines and pools)
  bool pipeline = false; ///< the parent of a pipeline
  std::function<bool()> ready;
  std::function<void(std::chrono::nanoseconds)> wait;
  std::function<std::optional<ended>()> take; ///< its outcome (once ready); nullopt twice
};

template <class R>
tracked track(std::string target, future<R> f, bool pipeline = false) {
  auto shared = std::make_shared<future<R>>(std::move(f));
  tracked t;
  t.target = std::move(target);
  t.pipeline = pipeline;
  t.ready = [shared] { return shared->ready(); };
  t.wait = [shared](std::chrono::nanoseconds d) { shared->wait_for(d); };
  t.take = [shared]() -> std::optional<ended> {
    if (!shared->valid())
      return std::nullopt;
    auto r = shared->get();
    if (r)
      return ended::completed;
    return classify(r.error());
  };
  return t;
}

/// A latch for the stuck task, released once the checks are done.
struct latch {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard<std::mutex> lock{mutex};
    open = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock{mutex};
    cv.wait(lock, [&] { return open; });
  }
};

std::vector<std::string> runtime_threads() {
  std::vector<std::string> names;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir)) {
      if (e->d_name[0] == '.')
        continue;
      std::ifstream comm{std::string{"/proc/self/task/"} + e->d_name + "/comm"};
      std::string name;
      std::getline(comm, name);
      if (name.rfind("lb.", 0) == 0)
        names.push_back(name);
    }
    closedir(dir);
  }
  return names;
}

// -- the fan kind: asks echo actors from its handler, answers from a continuation --------------

struct fan_reply {
  std::int64_t answered = 0; ///< members that replied
};
struct fan_request {
  using reply_type = fan_reply;
  std::vector<std::string> targets; ///< echo actors, one request each
  bool gather = false;              ///< stop at the first failure (else wait for all)
  std::int64_t payload = 0;
};
template <execution Mode>
class fan_worker;
template <execution Mode>
struct fan_kind {
  static constexpr const char* name =
      Mode == loopbridge::execution::scheduled ? "fan" : "fan_thread";
  using requests = request_list<fan_request>;
  using worker = fan_worker<Mode>;
  static loopbridge::execution execution(const params&) { return Mode; }
};
template <execution Mode>
class fan_worker : public worker {
public:
  explicit fan_worker(worker_context& ctx) : ctx_(ctx) {}
  void handle(fan_request& req, responder<fan_reply>& r) {
    std::vector<future<echo_reply>> fs;
    for (auto& name : req.targets) {
      auto to = ctx_.actor<echo>(name);
      if (!to) {
        r.fail(to.error());
        return;
      }
      fs.push_back(ctx_.submit(*to, echo_request{req.payload}));
    }
    if (req.gather) {
      ctx_.gather(std::move(fs), [r = std::move(r)](result<std::vector<echo_reply>> all) mutable {
        if (!all)
          r.fail(all.error());
        else
          r.reply(fan_reply{static_cast<std::int64_t>(all->size())});
      });
      return;
    }
    ctx_.when_all(std::move(fs), [r = std::move(r)](std::vector<result<echo_reply>> all) mutable {
      std::int64_t ok = 0;
      for (auto& one : all)
        ok += one ? 1 : 0;
      r.reply(fan_reply{ok});
    });
  }

private:
  worker_context& ctx_;
};

kind_registry kinds() {
  auto k = builtin_kinds();
  k.add<fan_kind<execution::scheduled>>();
  k.add<fan_kind<execution::dedicated_thread>>();
  k.adapt<echo_reply, echo_request>(
      [](echo_reply r) { return echo_request{std::move(r.payload)}; });
  return k;
}

// -- one seed
// ---------------------------------------------------------------------------------------

struct outcome {
  bool ok = true;
  std::vector<std::string> problems;
  std::chrono::nanoseconds overshoot{0}; ///< how far past its budget `stop()` returned
  std::size_t futures = 0;
  void fail(std::string p) {
    ok = false;
    problems.push_back(std::move(p));
  }
};

outcome run_seed(std::uint64_t seed, bool verbose) {
  auto p = make_plan(seed);
  if (verbose)
    std::printf("%s\n", p.describe().c_str());
  outcome out;
  auto before = runtime_threads();
  runtime_options options;
  options.shutdown_budget = p.budget;
  options.log = log_level::off;
  auto rt = std::make_unique<runtime>(kinds(), options);
  auto fail_setup = [&](const std::string& what, const error& e) {
    out.fail("setup: " + what + ": " + e.to_string());
    return out;
  };
  for (auto& e : p.echoes) {
    actor_spec spec;
    spec.name = e.name;
    spec.kind = "echo";
    spec.count = e.count;
    spec.mailbox.overflow = e.overflow;
    spec.mailbox.capacity = e.capacity;
    if (e.crash_every > 0)
      spec.restart = {restart_policy::on_failure, 1000, 60s};
    value::map params{{"delay", std::chrono::nanoseconds{e.delay}},
                      {"dedicated", e.dedicated},
                      {"fail_every", e.fail_every},
                      {"crash_every", e.crash_every}};
    if (e.block.count() > 0)
      params["block"] = std::chrono::nanoseconds{e.block};
    spec.params = value{params};
    if (auto ok = rt->spawn(spec); !ok)
      return fail_setup("spawn " + e.name, ok.error());
  }
  if (std::any_of(p.echoes.begin(), p.echoes.end(), [](auto& e) { return e.pipeline_entry; }))
    if (auto ok = rt->add_route("entry", "stage"); !ok)
      return fail_setup("route", ok.error());
  {
    actor_spec pool;
    pool.name = "pool";
    pool.kind = "blocking";
    pool.count = p.pool_threads;
    if (auto ok = rt->spawn(pool); !ok)
      return fail_setup("spawn pool", ok.error());
  }
  std::vector<std::string> direct;
  for (auto& e : p.echoes)
    if (!e.pipeline_entry && !e.pipeline_stage)
      direct.push_back(e.name);
  if (p.fans > 0) {
    actor_spec fan;
    fan.name = "fan";
    fan.kind = p.fan_dedicated ? "fan_thread" : "fan";
    fan.count = p.fans;
    if (auto ok = rt->spawn(fan); !ok)
      return fail_setup("spawn fan", ok.error());
  }
  latch stuck_release;
  std::atomic<bool> stuck_started{false};
  std::optional<future<int>> stuck;
  if (p.stuck_task) // ignores its token: the stop must leave its thread behind and name it
    stuck = rt->offload_separate([&] {
      stuck_started = true;
      stuck_release.wait();
      return 1;
    });

  // The load: each host thread draws actions until the stop begins, then keeps going a little
  // (its submits after the stop must fail at once).
  std::atomic<bool> stopping{false};
  std::mutex made_mutex;
  std::vector<tracked> made;
  std::set<std::string> delivered_to; ///< actors a `deliver` fed: their counts include it
  std::vector<std::thread> hosts;
  for (int h = 0; h < p.host_threads; ++h)
    hosts.emplace_back([&, h] {
      std::mt19937_64 rng{seed * 1000 + static_cast<std::uint64_t>(h)};
      auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng);
      };
      std::vector<tracked> mine;
      std::vector<std::shared_ptr<loopbridge::stream<int>>> streams;
      int after_stop = 0;
      for (std::int64_t i = 0; after_stop < 20; ++i) {
        if (stopping.load())
          ++after_stop;
        auto act = p.actions[pick(p.actions.size())];
        if (direct.empty() && (act == action::submit || act == action::cancel_submit ||
                               act == action::short_deadline))
          act = action::offload;
        switch (act) {
          case action::submit:
          case action::cancel_submit:
          case action::short_deadline: {
            auto& name = direct[pick(direct.size())];
            auto handle = rt->actor<echo>(name);
            if (!handle) // only after the stop: names stay until the runtime is gone
              break;
            auto timeout = act == action::short_deadline ? std::chrono::nanoseconds{1ms}
                                                         : std::chrono::nanoseconds{0};
            auto f = handle->submit(echo_request{i}, timeout);
            if (act == action::cancel_submit)
              f.cancel();
            mine.push_back(track(name, std::move(f)));
            break;
          }
          case action::pipeline: {
            auto entry = rt->actor<echo>("entry");
            if (!entry)
              break;
            mine.push_back(
                track("", rt->submit_pipeline<echo_reply>(*entry, echo_request{i}), true));
            break;
          }
          case action::offload: {
            auto pool = rt->pool("pool");
            if (!pool)
              break;
            mine.push_back(track("", pool->offload([i](const cancel_token& token) {
              for (int k = 0; k < 200 && !token.cancelled(); ++k)
                std::this_thread::yield();
              return i;
            })));
            break;
          }
          case action::stream: {
            auto pool = rt->pool("pool");
            if (!pool)
              break;
            auto s = std::make_shared<loopbridge::stream<int>>(rt->stream(
                *pool,
                [n = 0]() mutable -> std::optional<int> {
                  return n < 50 ? std::optional<int>{n++} : std::nullopt;
                },
                4));
            for (int k = 0; k < 5; ++k)
              if (!s->next(10ms))
                break;
            streams.push_back(s); // left open: the stop closes it
            break;
          }
          case action::fan_out: {
            if (direct.empty())
              break;
            fan_request req;
            for (std::size_t k = 0, n = 1 + pick(3); k < n; ++k)
              req.targets.push_back(direct[pick(direct.size())]);
            req.gather = pick(2) == 0;
            req.payload = i;
            {
              // The echo actors it asks get requests no host future tracks.
              std::lock_guard<std::mutex> lock{made_mutex};
              delivered_to.insert(req.targets.begin(), req.targets.end());
            }
            auto submit = [&](auto handle) {
              if (handle) // only after the stop
                mine.push_back(track("fan", handle->submit(std::move(req))));
            };
            if (p.fan_dedicated)
              submit(rt->actor<fan_kind<execution::dedicated_thread>>("fan"));
            else
              submit(rt->actor<fan_kind<execution::scheduled>>("fan"));
            break;
          }
          case action::deliver: {
            if (direct.empty())
              break;
            auto& name = direct[pick(direct.size())];
            auto handle = rt->actor<echo>(name);
            auto pool = rt->pool("pool");
            if (!handle || !pool)
              break;
            {
              std::lock_guard<std::mutex> lock{made_mutex};
              delivered_to.insert(name);
            }
            auto s = rt->stream(
                *pool,
                [n = 0]() mutable -> std::optional<int> {
                  return n < 1000 ? std::optional<int>{n++} : std::nullopt;
                },
                8);
            mine.push_back(
                track("", rt->deliver(
                              std::move(s), *handle, [](int v) { return echo_request{v}; }, 4)));
            break;
          }
        }
        if (pick(4) == 0 && !mine.empty()) // wait now and then, as a synchronous host would
          mine.back().wait(5ms);
        if (pick(8) == 0)
          std::this_thread::yield();
      }
      std::lock_guard<std::mutex> lock{made_mutex};
      for (auto& t : mine)
        made.push_back(std::move(t));
    });

  std::this_thread::sleep_for(
      p.load); // the stop point (the load's length), not a wait for an event
  stopping.store(true);
  auto t0 = clock_type::now();
  const auto& report = rt->stop();
  auto took = clock_type::now() - t0;
  out.overshoot = std::chrono::duration_cast<std::chrono::nanoseconds>(took - p.budget);
  if (took > p.budget + 1s)
    out.fail("stop() took " + readable_duration(took) + " with a budget of " +
             readable_duration(p.budget));
  for (auto& t : hosts)
    t.join();

  // 1. Every future resolved when stop() returned: checked right away, no waiting.
  std::map<std::string, std::map<ended, std::uint64_t>> by_target;
  std::uint64_t pipelines_completed = 0;
  out.futures = made.size();
  for (auto& t : made) {
    if (!t.ready()) {
      out.fail("a future of " + (t.target.empty() ? std::string{"a pool or pipeline"} : t.target) +
               " was not resolved when stop() returned");
      continue;
    }
    auto e = t.take();
    if (!e) {
      out.fail("a future resolved twice or not at all");
      continue;
    }
    if (t.take())
      out.fail("a future gave its outcome twice");
    if (t.pipeline && *e == ended::completed)
      ++pipelines_completed;
    if (!t.target.empty())
      ++by_target[t.target][*e];
  }
  if (stuck && !stuck->ready())
    out.fail("the stuck task's future was not resolved when stop() returned");

  // 2. Metrics agree with themselves and with the report; direct futures agree with metrics.
  auto metrics = rt->metrics();
  std::map<std::string, const stopped_event*> stops;
  for (auto& a : report.actors)
    stops[a.actor] = &a;
  for (auto& m : metrics) {
    if (m.queued != 0 || m.in_flight != 0)
      out.fail(m.name + " still holds requests after the stop (queued " + std::to_string(m.queued) +
               ", in flight " + std::to_string(m.in_flight) + ")");
    if (m.received != m.completed + m.failed + m.cancelled)
      out.fail(m.name + ": received " + std::to_string(m.received) + " != completed " +
               std::to_string(m.completed) + " + failed " + std::to_string(m.failed) +
               " + cancelled " + std::to_string(m.cancelled));
    auto s = stops.find(m.name);
    if (s == stops.end()) {
      out.fail(m.name + " is missing from the shutdown report");
      continue;
    }
    auto& st = *s->second;
    if (st.total_received != m.received || st.total_completed != m.completed ||
        st.total_failed != m.failed || st.total_cancelled != m.cancelled)
      out.fail(m.name + ": the report's totals differ from its metrics: " + to_string(event{st}) +
               " against received " + std::to_string(m.received) + ", completed " +
               std::to_string(m.completed) + ", failed " + std::to_string(m.failed) +
               ", cancelled " + std::to_string(m.cancelled));
    if (st.cancelled > m.cancelled || st.completed > m.completed || st.failed > m.failed ||
        st.abandoned > st.cancelled)
      out.fail(m.name + ": the stop's counts exceed its totals");
    auto h = by_target.find(m.name);
    if (h != by_target.end() && !delivered_to.count(m.name)) {
      // Futures resolved by the runtime's own refusal before a request reached the loop (the
      // runtime stopped, or no room in time for a `block` actor) are not in its metrics, so
      // errors may exceed; replies may not differ at all.
      auto completed = h->second[ended::completed];
      if (completed != m.completed)
        out.fail(m.name + ": " + std::to_string(completed) + " futures completed, metrics say " +
                 std::to_string(m.completed));
      if (h->second[ended::failed] + h->second[ended::cancelled] < m.failed + m.cancelled)
        out.fail(m.name + ": fewer failed futures than its metrics count");
    }
  }
  for (auto& m : metrics)
    if (m.name == "stage" && m.completed != pipelines_completed)
      out.fail("the pipeline's last stage completed " + std::to_string(m.completed) +
               ", pipeline futures completed " + std::to_string(pipelines_completed));

  // 3. Threads: none left but the stuck task's, which the report names.
  bool stuck_named = false;
  for (auto& line : report.stuck)
    if (line.find("separate.") != std::string::npos)
      stuck_named = true;
  // (A task the stop cancelled before it started never ran: nothing to leave behind.)
  if (p.stuck_task && stuck_started && !stuck_named)
    out.fail("the stuck task is not named in the report: " + report.to_string());
  if (report.loop_stuck)
    out.fail("the event loop did not finish: " + report.to_string());
  if (!p.stuck_task && !report.stuck.empty())
    out.fail("threads were left behind: " + report.to_string());
  // A joined thread can still be listed in /proc for a moment: the kernel wakes its joiner
  // before it removes the task. So a thread counts as left only if it is still listed after a
  // second; one that stop() left running stays listed.
  auto threads_left = [&] {
    std::multiset<std::string> left{};
    for (auto& n : runtime_threads())
      left.insert(n);
    for (auto& n : before)
      if (auto it = left.find(n); it != left.end())
        left.erase(it);
    std::vector<std::string> unexpected;
    for (auto& n : left)
      if (!(p.stuck_task && n.rfind("lb.separate.", 0) == 0))
        unexpected.push_back(n);
    return unexpected;
  };
  auto left = threads_left();
  for (auto until = clock_type::now() + 1s; !left.empty() && clock_type::now() < until;
       left = threads_left())
    std::this_thread::sleep_for(1ms); // polling /proc with a deadline: there is no event
  for (auto& n : left)
    out.fail("thread " + n + " is still running after stop() returned");

  // Let the stuck task go and wait for its thread to end, so the next seed starts clean.
  stuck_release.release();
  auto until = clock_type::now() + 10s;
  while (runtime_threads().size() > before.size() && clock_type::now() < until)
    std::this_thread::sleep_for(1ms); // the leftover thread's end, with a deadline
  rt.reset();
  return out;
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 1, last = 200;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--verbose") {
      verbose = true;
    } else if (a == "--seeds" && i + 1 < argc) {
      std::string range = argv[++i];
      auto dots = range.find("..");
      first = std::stoull(range.substr(0, dots));
      last = dots == std::string::npos ? first : std::stoull(range.substr(dots + 2));
    } else {
      std::fprintf(stderr, "usage: %s [--seeds FIRST..LAST] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  std::vector<double> overshoots_ms;
  std::size_t failed = 0, futures = 0;
  auto t0 = clock_type::now();
  for (auto seed = first; seed <= last; ++seed) {
    auto r = run_seed(seed, verbose);
    futures += r.futures;
    overshoots_ms.push_back(std::chrono::duration<double, std::milli>(r.overshoot).count());
    if (!r.ok) {
      ++failed;
      std::printf("FAIL %s\n", make_plan(seed).describe().c_str());
      for (auto& p : r.problems)
        std::printf("  %s\n", p.c_str());
    } else if (verbose) {
      std::printf("pass seed %llu: %zu futures, stop %+.1f ms past its budget\n",
                  static_cast<unsigned long long>(seed), r.futures, overshoots_ms.back());
    }
    std::fflush(stdout);
  }
  std::sort(overshoots_ms.begin(), overshoots_ms.end());
  auto at = [&](double q) {
    return overshoots_ms[static_cast<std::size_t>(q *
                                                  static_cast<double>(overshoots_ms.size() - 1))];
  };
  std::printf("%zu of %zu seeds passed (%llu..%llu), %zu futures, %.1f s\n",
              overshoots_ms.size() - failed, overshoots_ms.size(),
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
              futures, std::chrono::duration<double>(clock_type::now() - t0).count());
  std::printf(
      "stop() past its budget: median %.1f ms, p99 %.1f ms, worst %.1f ms (allowed 200 ms)\n",
      at(0.5), at(0.99), overshoots_ms.back());
  std::printf("figure stop_overshoot_median %.2f ms\n", at(0.5));
  std::printf("figure stop_overshoot_worst %.2f ms\n", overshoots_ms.back());
  return failed == 0 ? 0 : 1;
}
