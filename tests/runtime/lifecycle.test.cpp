// Lifecycle as messages: ready, start failure, ready timeout, starting a set of actors,
// draining stops, scoped actors, shutdown that always ends, use after stop, metrics.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <algorithm>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "loopbridge/completion_queue.hpp"
#include "loopbridge/scoped_actor.hpp"
#include "loopbridge/testing/faults.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

actor_spec echo_spec(std::string name, value params = {}, std::uint32_t count = 1) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = "echo";
  s.params = std::move(params);
  s.count = count;
  return s;
}

/// Waits for each reply (10 s each) and counts those answered and those that failed with one
/// of `refusals`; whatever else a reply holds counts as neither.
std::pair<int, int> answered_and_refused(std::vector<future<echo_reply>>& replies,
                                         std::initializer_list<error_code> refusals) {
  int answered = 0, refused = 0;
  for (auto& f : replies) {
    REQUIRE(f.wait_for(10s));
    auto r = f.get();
    if (r.ok())
      ++answered;
    else if (std::any_of(refusals.begin(), refusals.end(),
                         [&](const error_code& code) { return r.is(code); }))
      ++refused;
  }
  return {answered, refused};
}

template <class T>
T expect_event(event_inbox& inbox, std::chrono::milliseconds timeout = 5000ms) {
  auto e = inbox.next(timeout);
  REQUIRE(e.ok());
  INFO("got: " << to_string(*e));
  REQUIRE(std::holds_alternative<T>(*e));
  return std::get<T>(*e);
}

} // namespace

// -- start ----------------------------------------------------------------------------------------

TEST_CASE("requests that arrive before ready are queued, not dropped", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::ready, event_type::done}, {}, 64});
  auto h = lbtest::spawn_echo(rt, "slow_start", {{"start_delay", 200ms}});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 10; ++i)
    fs.push_back(h.submit(echo_request{i}));
  CHECK_FALSE(fs[0].wait_for(50ms)); // not ready yet: waiting, not failed
  for (int i = 0; i < 10; ++i) {
    auto r = fs[i].get();
    REQUIRE(r.ok());
    CHECK(r->payload == value{i});
  }
  // `ready` came before any `done`.
  expect_event<ready_event>(inbox);
  for (int i = 0; i < 10; ++i)
    expect_event<done_event>(inbox);
  CHECK(rt.metrics("slow_start")->received == 10);
}

TEST_CASE("a failed start fails the queued requests with that error", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::start_failed, event_type::stopped}, {}, 64});
  auto h =
      lbtest::spawn_echo(rt, "origin", {{"start_delay", 50ms}, {"fail_start", "port 8080 in use"}});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 5; ++i)
    fs.push_back(h.submit(echo_request{i}));
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.is(errc::start_failed));
    CHECK(r.error().message().find("port 8080 in use") != std::string::npos);
  }
  auto failed = expect_event<start_failed_event>(inbox);
  CHECK(failed.actor == "origin");
  CHECK(failed.reason.message() == "origin/0: port 8080 in use");
  auto stopped = expect_event<stopped_event>(inbox);
  CHECK(stopped.reason.is(errc::start_failed));
  CHECK(stopped.cancelled == 5);
  // Later requests fail at once with the same error.
  CHECK(h.call(echo_request{9}, 5s).is(errc::start_failed));
}

TEST_CASE("an instance not ready within ready_timeout fails its start", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::start_failed}, {}, 64});
  auto spec = echo_spec("sleepy", {{"start_delay", 10s}});
  spec.ready_timeout = 100ms;
  rt.spawn(spec).value();
  auto h = rt.actor<echo>("sleepy").value();
  auto t0 = std::chrono::steady_clock::now();
  auto r = h.call(echo_request{1}, 5s);
  REQUIRE(r.is(errc::start_failed));
  CHECK(r.error().message() == "sleepy/0 was not ready within 100ms");
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(expect_event<start_failed_event>(inbox).reason.message() ==
        "sleepy/0 was not ready within 100ms");
}

TEST_CASE("start() brings a set of actors up in dependency order", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::ready}, {}, 64});
  auto db = echo_spec("db", {{"start_delay", 100ms}});
  auto api = echo_spec("api", {}, 2);
  api.depends_on = {"db"};
  auto web = echo_spec("web");
  web.depends_on = {"api"};
  // Declared in any order; started dependencies first.
  REQUIRE(rt.start({web, api, db}).ok());
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i)
    order.push_back(actor_of(*inbox.next(5s)));
  CHECK(order == std::vector<std::string>{"db", "api", "api", "web"});
  CHECK(rt.actor<echo>("web")->call(echo_request{1}, 5s).ok());
}

TEST_CASE("a failing start() stops what it had started in reverse order", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::stopped}, {}, 64});
  auto a = echo_spec("a");
  auto b = echo_spec("b");
  b.depends_on = {"a"};
  auto c = echo_spec("c", {{"fail_start", "no GPU"}});
  c.depends_on = {"b"};
  auto r = rt.start({a, b, c});
  REQUIRE(r.is(errc::start_failed));
  CHECK(r.error().message().find("no GPU") != std::string::npos);
  CHECK(r.error().message().find("stopped what had started (c, b, a)") != std::string::npos);
  std::vector<std::string> stopped;
  for (int i = 0; i < 3; ++i)
    stopped.push_back(actor_of(*inbox.next(5s)));
  CHECK(stopped == std::vector<std::string>{"c", "b", "a"});
}

TEST_CASE("start() validates everything before starting anything", "[lifecycle][start]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto a = echo_spec("a");
  a.depends_on = {"b"};
  auto b = echo_spec("b");
  b.depends_on = {"a"};
  auto c = echo_spec("c", {{"dealy", 1}});
  auto d = echo_spec("d");
  d.depends_on = {"apii"};
  auto r = rt.start({a, b, c, d});
  REQUIRE(r.is(errc::bad_request));
  auto& msg = r.error().message();
  CHECK(msg.find("depends_on cycle: 'a' -> 'b' -> 'a'") != std::string::npos);
  CHECK(msg.find("params.dealy: unknown parameter (did you mean 'delay'?)") != std::string::npos);
  CHECK(msg.find("depends on unknown actor 'apii'") != std::string::npos);
  for (auto name : {"a", "b", "c", "d"})
    CHECK(rt.actor<echo>(name).is(errc::not_found)); // nothing was started
}

// -- stop -----------------------------------------------------------------------------------------

TEST_CASE("a stop with a long deadline lets every accepted request complete", "[lifecycle][stop]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "worker", {{"block", 5ms}});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(h.submit(echo_request{i}));
  auto stopped = rt.stop_actor("worker", 10s).get();
  REQUIRE(stopped.ok());
  CHECK(stopped->completed == 20);
  CHECK(stopped->cancelled == 0);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(fs[i].ready());
    CHECK(fs[i].get()->payload == value{i}); // in order, all served
  }
  auto late = h.call(echo_request{99}, 5s);
  REQUIRE(late.is(errc::stopped)); // refused at once after the stop
}

TEST_CASE("a stop with a short deadline cancels the rest: completed + cancelled = accepted",
          "[lifecycle][stop]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "worker", {{"block", 30ms}});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 40; ++i)
    fs.push_back(h.submit(echo_request{i}));
  auto t0 = std::chrono::steady_clock::now();
  auto stopped = rt.stop_actor("worker", 100ms).get();
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  REQUIRE(stopped.ok());
  CHECK(stopped->completed >= 1);
  CHECK(stopped->cancelled >= 30);
  CHECK(stopped->completed + stopped->cancelled == 40);
  CHECK(rt.metrics("worker")->received == 40);
  int ok = 0, cancelled = 0;
  for (auto& f : fs) {
    auto r = f.get();
    if (r.ok())
      ++ok;
    else if (r.is(errc::stopped))
      ++cancelled;
  }
  CHECK(ok + cancelled == 40);
  CHECK(static_cast<std::uint64_t>(cancelled) == stopped->cancelled);
}

TEST_CASE("a scoped actor stops when its scope ends and waits for its stopped event",
          "[lifecycle][stop]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::stopped}, {}, 16});
  actor_handle<echo> escaped;
  std::vector<future<echo_reply>> fs;
  {
    auto worker = scoped_actor<echo>::spawn(rt, echo_spec("scoped", {{"delay", 20ms}})).value();
    escaped = worker.handle();
    for (int i = 0; i < 5; ++i)
      fs.push_back(worker->submit(echo_request{i}));
  }                         // drains, then waits for `stopped`
  CHECK(inbox.size() == 1); // already there when the scope ended
  auto stopped = expect_event<stopped_event>(inbox);
  CHECK(stopped.actor == "scoped");
  CHECK(stopped.completed == 5);
  for (auto& f : fs)
    CHECK(f.get().ok());
  CHECK(escaped.call(echo_request{1}, 5s).is(errc::stopped));
}

TEST_CASE("a stopped actor's name can be spawned again, handles to the old one stay stopped",
          "[lifecycle][stop]") {
  // The seed's `async with Worker() as w:` run once per job: a scoped actor with the same name,
  // three times in a row. Each is a new actor; a handle kept from an earlier one never reaches
  // a later one, and a live name stays taken.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  std::vector<actor_handle<echo>> earlier;
  for (int round = 0; round < 3; ++round) {
    auto worker = scoped_actor<echo>::spawn(rt, echo_spec("job"));
    REQUIRE(worker.ok());
    CHECK(rt.spawn("job", "echo").error().message() == "an actor named 'job' already exists");
    for (int i = 0; i < 4; ++i)
      REQUIRE(worker->handle().call(echo_request{i}, 5s).ok());
    CHECK(rt.metrics("job")->received == 4); // this actor's own counters
    for (auto& old : earlier)
      CHECK(old.call(echo_request{1}, 5s).is(errc::stopped));
    earlier.push_back(worker->handle());
  } // each scope stops its actor and waits for `stopped` before the next spawn
  auto again = rt.actor<echo>("job");
  REQUIRE(again.ok());
  CHECK(again->call(echo_request{1}, 5s).is(errc::stopped)); // the name's last actor: stopped

  // A name a route points at stays taken after its actor stopped (the route was wired to it).
  REQUIRE(rt.spawn(echo_spec("front")).ok());
  REQUIRE(rt.spawn(echo_spec("back")).ok());
  REQUIRE(rt.add_route("front", "back").ok());
  REQUIRE(rt.stop_actor("back", 5s).get().ok());
  auto reused = rt.spawn(echo_spec("back"));
  REQUIRE(reused.is(errc::bad_request));
  CHECK(reused.error().message().find("that a route names (front -> back)") != std::string::npos);
}

TEST_CASE("other actors stay responsive while one drains a long queue", "[lifecycle][stop]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto slow = lbtest::spawn_echo(rt, "slow", {{"block", 5ms}});
  auto fast = lbtest::spawn_echo(rt, "fast");
  std::vector<future<echo_reply>> backlog;
  for (int i = 0; i < 100; ++i)
    backlog.push_back(slow.submit(echo_request{i}));
  auto stopping = rt.stop_actor("slow", 30s);
  std::vector<double> rtts;
  while (!stopping.ready() && rtts.size() < 200) {
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(fast.call(echo_request{"ping"}, 5s).ok());
    rtts.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  REQUIRE(rtts.size() >= 10); // measured while the drain was going on
  std::sort(rtts.begin(), rtts.end());
  CHECK(rtts[rtts.size() / 2] < 5.0); // median round trip stays in the low milliseconds
  CHECK(stopping.get()->completed == 100);
}

// -- runtime shutdown -----------------------------------------------------------------------------

TEST_CASE("10k requests in flight at runtime destruction: each future resolves exactly once",
          "[lifecycle][shutdown]") {
  std::vector<future<echo_reply>> fs;
  auto options = lbtest::quick_options();
  options.shutdown_budget = 300ms;
  completion_queue q;
  {
    runtime rt{builtin_kinds(), options};
    auto fast = lbtest::spawn_echo(rt, "fast");
    auto slow = lbtest::spawn_echo(rt, "slow", {{"delay", 10s}});
    auto blocked = lbtest::spawn_echo(rt, "blocked", {{"block", 10s}});
    for (int i = 0; i < 10000; ++i) {
      auto& h = i % 3 == 0 ? fast : i % 3 == 1 ? slow : blocked;
      fs.push_back(h.submit(echo_request{i}));
      REQUIRE(q.watch(fs.back()).ok());
    }
  }
  // Every future was resolved, and exactly one completion was reported per future.
  std::size_t reported = 0;
  while (q.try_pop())
    ++reported;
  CHECK(reported == 10000);
  int ok = 0, stopped = 0;
  for (auto& f : fs) {
    REQUIRE(f.ready());
    auto r = f.get();
    (r.ok() ? ok : stopped) += 1;
    if (!r.ok())
      CHECK(r.is(errc::stopped));
  }
  CHECK(ok + stopped == 10000);
  CHECK(stopped >= 6000); // the slow and blocked actors could not finish theirs
}

TEST_CASE("a stuck blocking function: shutdown returns within its budget and names it",
          "[lifecycle][shutdown]") {
  auto options = lbtest::quick_options();
  options.shutdown_budget = 300ms;
  runtime rt{builtin_kinds(), options};
  auto stuck = lbtest::spawn_echo(rt, "stuck", {{"block", 1h}, {"poll_cancel", false}});
  auto f = stuck.submit(echo_request{"forever"});
  auto queued = stuck.submit(echo_request{"behind it"});
  REQUIRE_FALSE(f.wait_for(50ms)); // it is running (and will never return)
  auto t0 = std::chrono::steady_clock::now();
  auto& report = rt.stop();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 300ms + 700ms); // budget plus a small margin
  CHECK(f.get().is(errc::stopped));
  CHECK(queued.get().is(errc::stopped));
  REQUIRE(report.stuck.size() == 1);
  INFO(report.to_string());
  CHECK(report.stuck[0].find("lb.stuck.0") != std::string::npos);
  CHECK(report.stuck[0].find("running request #" + std::to_string(f.id() == 0 ? 1 : 1)) !=
        std::string::npos);
  CHECK(report.stuck[0].find("left behind") != std::string::npos);
  REQUIRE(report.actors.size() == 1);
  CHECK(report.actors[0].cancelled == 2);
  CHECK(report.actors[0].abandoned == 1); // the one its thread still runs
  CHECK_FALSE(report.clean());
  CHECK(&rt.stop() == &report); // idempotent
}

TEST_CASE("a task stop left behind lets the runtime go when it ends", "[lifecycle][shutdown]") {
  // The task's end reaches the loop's inbox after the loop drained for the last time. The
  // task holds a handle, so an inbox that kept it would keep the runtime's core alive, and the
  // core the inbox: a cycle nothing frees. Its closure must be destroyed once it returns.
  struct sentinel {
    std::promise<void> freed;
    ~sentinel() { freed.set_value(); }
  };
  auto options = lbtest::quick_options();
  options.shutdown_budget = 100ms;
  auto rt = std::make_unique<runtime>(builtin_kinds(), options);
  auto echo_handle = lbtest::spawn_echo(*rt, "echo", {});
  auto guard = std::make_shared<sentinel>();
  auto freed = guard->freed.get_future();
  std::promise<void> started, release;
  auto let_go = release.get_future().share();
  auto f = rt->offload_separate([&started, let_go, h = echo_handle, guard]() {
    started.set_value();
    let_go.wait();
    return 1;
  });
  REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
  auto& report = rt->stop();
  INFO(report.to_string());
  CHECK_FALSE(report.loop_stuck);
  REQUIRE(report.stuck.size() == 1); // the task's thread, left running
  CHECK(f.get().is(errc::stopped));
  guard.reset();
  echo_handle = {};
  rt.reset();
  release.set_value(); // the task ends now, after everything else let go of the runtime
  CHECK(freed.wait_for(10s) == std::future_status::ready);
}

namespace {
/// A scheduled kind whose handler keeps its thread until the test lets it go.
struct hog_reply {};
struct hog_request {
  using reply_type = hog_reply;
  std::shared_ptr<std::atomic<bool>> release;
};
class hog_worker;
struct hog {
  static constexpr const char* name = "hog";
  using requests = request_list<hog_request>;
  using worker = hog_worker;
};
class hog_worker : public worker {
public:
  explicit hog_worker(worker_context&) {}
  void handle(hog_request& req, responder<hog_reply>& r) {
    while (!req.release->load()) {
    }
    r.reply({});
  }
};

/// A runtime with one scheduler thread, which a `hog` handler holds until `let_go()`: what is
/// made runnable meanwhile waits for the thread.
struct held_scheduler {
  std::shared_ptr<std::atomic<bool>> release = std::make_shared<std::atomic<bool>>(false);
  runtime rt{kinds(), options()};
  future<hog_reply> held;

  held_scheduler() {
    REQUIRE(rt.spawn("hog", "hog", value::map{}).ok());
    held = rt.actor<hog>("hog")->submit(hog_request{release});
    REQUIRE(lbtest::eventually([&] { return rt.metrics("hog")->in_flight == 1; }));
  }
  void let_go() { release->store(true); }

  static kind_registry kinds() {
    auto k = builtin_kinds();
    k.add<hog>();
    return k;
  }
  static runtime_options options() {
    auto o = lbtest::quick_options();
    o.scheduler_threads = 1;
    return o;
  }
};
} // namespace

TEST_CASE("a scheduled handler that never returns: stop returns in time and names it",
          "[lifecycle][shutdown]") {
  auto k = builtin_kinds();
  k.add<hog>();
  auto options = lbtest::quick_options();
  options.shutdown_budget = 200ms;
  auto rt = std::make_unique<runtime>(std::move(k), options);
  REQUIRE(rt->spawn("hog", "hog", value::map{}).ok());
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto f = rt->actor<hog>("hog")->submit(hog_request{release});
  REQUIRE(lbtest::eventually([&] { return rt->metrics("hog")->in_flight == 1; }));
  auto t0 = std::chrono::steady_clock::now();
  auto& report = rt->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  release->store(true); // the thread may end now (the actor system was left behind)
  INFO(report.to_string());
  CHECK(took < 200ms + 700ms); // the budget plus a margin, never the handler's whole life
  CHECK(f.ready());
  CHECK(f.get().is(errc::stopped));
  bool named = false;
  for (auto& line : report.stuck)
    named = named || (line.find("lb.sched.") != std::string::npos &&
                      line.find("hog/0") != std::string::npos);
  CHECK(named);
  CHECK_FALSE(report.clean());
}

TEST_CASE("an instance waiting for a scheduler thread is not timed out before its start begins",
          "[lifecycle][start]") {
  // A million actors spawned at once wait in the scheduler's queue longer than their ready
  // timeout; only the time after their start began counts. Here the only scheduler thread is
  // held by a handler while an actor with a 50 ms ready timeout is spawned.
  held_scheduler hold;
  auto& rt = hold.rt;
  auto inbox = rt.subscribe({{event_type::ready, event_type::start_failed}, {"late"}, 64});
  auto spec = echo_spec("late");
  spec.ready_timeout = 50ms;
  REQUIRE(rt.spawn(spec).ok());
  auto quiet = inbox.next(500ms); // ten ready timeouts while it waits for the thread
  CHECK(quiet.is(errc::timeout));
  hold.let_go();
  CHECK(hold.held.get().ok());
  auto e = inbox.next(5s);
  REQUIRE(e.ok());
  CHECK(std::holds_alternative<ready_event>(*e));
  CHECK(rt.actor<echo>("late")->call(echo_request{7}, 5s).ok());
}

TEST_CASE("a stop resolves every pipeline, whichever stage holds it", "[lifecycle][shutdown]") {
  // The first stage is a pool of eight threads: at the stop, some requests have finished it and
  // wait for the second stage, whose stop comes after (a pipeline drains front to back).
  auto k = builtin_kinds();
  k.adapt<echo_reply, echo_request>(
      [](echo_reply r) { return echo_request{std::move(r.payload)}; });
  auto options = lbtest::quick_options();
  options.shutdown_budget = 60ms;
  runtime rt{std::move(k), options};
  REQUIRE(rt.spawn(echo_spec("first", {{"block", 20ms}}, 8)).ok());
  REQUIRE(rt.spawn(echo_spec("second", {{"delay", 5ms}})).ok());
  REQUIRE(rt.add_route("first", "second").ok());
  auto first = rt.actor<echo>("first").value();
  std::vector<future<echo_reply>> fs;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 32; ++i)
      fs.push_back(rt.submit_pipeline<echo_reply>(first, echo_request{i}));
    fs.front().wait_for(5s);
  }
  rt.stop();
  std::uint64_t completed = 0;
  for (auto& f : fs) {
    REQUIRE(f.ready()); // nothing lost: resolved when stop() returned
    auto r = f.get();
    if (r.ok())
      ++completed;
    else
      CHECK(r.is(errc::stopped));
  }
  CHECK(completed == rt.metrics("second")->completed);
}

TEST_CASE("deliver answers with what it delivered when the runtime stops", "[lifecycle][stream]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto sink = lbtest::spawn_echo(rt, "sink");
  auto pool = rt.pool("blocking");
  if (!pool)
    pool = rt.offload([] { return 0; }).get().ok() ? rt.pool("blocking") : pool;
  REQUIRE(pool.ok());
  auto endless = rt.stream(
      *pool, [n = 0]() mutable { return std::optional<int>{n++}; }, 8);
  auto f = rt.deliver(
      std::move(endless), sink, [](int v) { return echo_request{v}; }, 4);
  REQUIRE(lbtest::eventually([&] { return rt.metrics("sink")->completed >= 20; }));
  rt.stop();
  REQUIRE(f.ready());
  auto d = f.get();
  REQUIRE(d.ok()); // its counts, not loop.cancelled
  CHECK(d->delivered >= 20);
  CHECK(d->delivered == rt.metrics("sink")->completed); // items refused after the stop: failed
}

namespace {
/// Actors `metrics()` lists whose name starts with `prefix`.
std::size_t listed(runtime& rt, const std::string& prefix) {
  std::size_t n = 0;
  for (auto& m : rt.metrics())
    n += m.name.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}
} // namespace

TEST_CASE("finished one-shot tasks are forgotten as they go: a long-running host stays bounded",
          "[lifecycle][retire]") {
  // offload_separate makes an actor per call. Once its task ended, nothing can name it any
  // more: the runtime forgets it (metrics, report, its record and slot) instead of keeping
  // ~4.5 KB per task until the runtime stops.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto steady = lbtest::spawn_echo(rt, "steady");
  REQUIRE(rt.offload_separate([](const cancel_token&) { return 0; }).get().ok()); // warm
  REQUIRE(lbtest::eventually([&] { return listed(rt, "separate.") == 0; }));
  auto heap_before = mallinfo2().uordblks;
  constexpr int tasks = 500;
  for (int i = 0; i < tasks; ++i) {
    auto r = rt.offload_separate([i](const cancel_token&) { return i; }).get();
    REQUIRE(r.ok());
    REQUIRE(*r == i);
  }
  REQUIRE(lbtest::eventually([&] { return listed(rt, "separate.") == 0; }));
  auto grown =
      static_cast<std::int64_t>(mallinfo2().uordblks) - static_cast<std::int64_t>(heap_before);
  INFO("heap grew by " << grown << " bytes over " << tasks << " tasks");
  CHECK(grown < tasks * 128); // ~2,300 bytes per task stayed on this thread's heap before
  CHECK(rt.metrics().size() == 1);
  CHECK(rt.pool("separate.7").is(errc::not_found));
  CHECK(rt.stop_actor("separate.7", 1s).get().is(errc::not_found));
  CHECK(steady.call(echo_request{1}, 5s).ok()); // the loop's table still finds the live actor
  auto& report = rt.stop();
  CHECK(report.retired == tasks + 1);
  REQUIRE(report.actors.size() == 1);
  CHECK(report.actors[0].actor == "steady");
}

TEST_CASE("a stopped actor whose name went to a new one is retired, its handles stay stopped",
          "[lifecycle][retire]") {
  // The seed's worker-per-job pattern: a scoped actor under one name, job after job. Each
  // earlier actor is forgotten once the next one took its name; a handle kept from the first
  // one still answers with that actor's stop, and never reaches whichever actor reuses its
  // place in the loop's table.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  actor_handle<echo> first;
  constexpr int jobs = 50;
  for (int job = 0; job < jobs; ++job) {
    auto worker = scoped_actor<echo>::spawn(rt, echo_spec("job"));
    REQUIRE(worker.ok());
    REQUIRE(worker->handle().call(echo_request{job}, 5s).ok());
    if (job == 0)
      first = worker->handle();
  }
  REQUIRE(lbtest::eventually([&] { return rt.metrics().size() == 1; })); // the last "job" only
  auto live = lbtest::spawn_echo(rt, "live"); // may take the first job's place
  REQUIRE(live.call(echo_request{1}, 5s).ok());
  auto stale = first.call(echo_request{2}, 5s);
  REQUIRE(stale.is(errc::stopped));
  CHECK(stale.error().message() == "job stopped");
  CHECK(rt.metrics("live")->received == 1); // the stale request went nowhere
  CHECK(rt.metrics("job")->received == 1);  // the name's latest actor, stopped
  auto& report = rt.stop();
  CHECK(report.retired == jobs - 1);
  REQUIRE(report.actors.size() == 2); // in stop order
  CHECK(report.actors[0].actor == "job");
  CHECK(report.actors[1].actor == "live");
  auto text = report.to_string();
  CHECK(text.find("\n  live: its stop completed 0, failed 0, cancelled 0; in all received 1, "
                  "completed 1, failed 0, cancelled 0") != std::string::npos);
  CHECK(text.find("(49 actors stopped and were retired earlier)\n") != std::string::npos);
}

TEST_CASE("requests through handles dropped right after submitting reach no freed or reused actor",
          "[lifecycle][retire][concurrency]") {
  // One thread runs job after job under one name (each retires the one before and may take
  // its place); another submits through a handle to an earlier job and drops the handle at
  // once, so the request may be the last thing pointing at that actor when the loop gets it.
  // Every such request must answer with that job's stop, and the live job must see none of
  // them (ASan checks the rest).
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  std::mutex mutex;
  std::deque<actor_handle<echo>> earlier;
  std::atomic<bool> done{false};
  constexpr int jobs = 150;
  std::atomic<int> answered{0}, wrong{0};
  auto stale_submitter = std::async(std::launch::async, [&] {
    while (!done.load() || !earlier.empty()) {
      std::optional<actor_handle<echo>> h;
      {
        std::lock_guard<std::mutex> guard{mutex};
        if (!earlier.empty()) {
          h = std::move(earlier.front());
          earlier.pop_front();
        }
      }
      if (!h) {
        std::this_thread::yield();
        continue;
      }
      auto f = h->submit(echo_request{-1});
      h.reset(); // the request may now hold the only pointer to that actor
      if (!f.wait_for(5s)) {
        ++wrong; // never answered
        continue;
      }
      ++answered;
      if (!f.get().is(errc::stopped))
        ++wrong;
    }
  });
  for (int job = 0; job < jobs; ++job) {
    actor_handle<echo> finished;
    {
      auto worker = scoped_actor<echo>::spawn(rt, echo_spec("job"));
      REQUIRE(worker.ok());
      REQUIRE(worker->handle().call(echo_request{job}, 5s).ok());
      CHECK(rt.metrics("job")->received == 1); // nothing stale reached the live job
      finished = worker->handle();
    } // stopped here
    std::lock_guard<std::mutex> guard{mutex};
    earlier.push_back(std::move(finished));
  }
  done = true;
  REQUIRE(stale_submitter.wait_for(30s) == std::future_status::ready);
  CHECK(answered == jobs);
  CHECK(wrong == 0);
  rt.stop();
}

TEST_CASE("shutdown keeps reverse start order when a new actor reuses a retired one's place",
          "[lifecycle][retire][shutdown]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "first");
  lbtest::spawn_echo(rt, "tmp");
  REQUIRE(rt.stop_actor("tmp", 5s).get().ok());
  lbtest::spawn_echo(rt, "tmp"); // the stopped "tmp" is retired: its place is free
  REQUIRE(lbtest::eventually([&] { return rt.metrics().size() == 2; }));
  lbtest::spawn_echo(rt, "third"); // takes that place, before the second "tmp"'s
  auto& report = rt.stop();
  REQUIRE(report.actors.size() == 3);
  CHECK(report.actors[0].actor == "third");
  CHECK(report.actors[1].actor == "tmp");
  CHECK(report.actors[2].actor == "first");
  CHECK(report.retired == 1);
}

TEST_CASE("shutdown stops actors in reverse start order", "[lifecycle][shutdown]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  for (auto name : {"first", "second", "third"})
    lbtest::spawn_echo(rt, name);
  auto& report = rt.stop();
  REQUIRE(report.actors.size() == 3);
  CHECK(report.actors[0].actor == "third");
  CHECK(report.actors[1].actor == "second");
  CHECK(report.actors[2].actor == "first");
  CHECK(report.clean());
}

TEST_CASE("a pipeline stops from its first stage to its last, so what is in flight completes",
          "[lifecycle][shutdown][routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  // Started first stage first: plain reverse start order would stop `last` while `first`
  // still drains into it.
  lbtest::spawn_echo(rt, "first", {{"delay", 20ms}});
  lbtest::spawn_echo(rt, "middle");
  lbtest::spawn_echo(rt, "last", {{"delay", 5ms}});
  REQUIRE(rt.add_route("first", "middle").ok());
  REQUIRE(rt.add_route("middle", "last").ok());
  auto entry = rt.actor<echo>("first").value();
  std::vector<future<echo_reply>> in_flight;
  for (int i = 0; i < 50; ++i)
    in_flight.push_back(rt.submit_pipeline<echo_reply>(entry, echo_request{i}));
  auto& report = rt.stop();
  REQUIRE(report.actors.size() == 3);
  CHECK(report.actors[0].actor == "first");
  CHECK(report.actors[1].actor == "middle");
  CHECK(report.actors[2].actor == "last");
  for (auto& f : in_flight)
    CHECK(f.get().ok()); // every stage was still there for it
  CHECK(report.clean());
}

TEST_CASE("shutdown interleaves a pipeline's stages with unrouted actors by start order",
          "[lifecycle][shutdown][routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  for (auto name : {"early", "first", "plain", "second", "late"})
    lbtest::spawn_echo(rt, name);
  REQUIRE(rt.add_route("first", "second").ok());
  auto& report = rt.stop();
  std::vector<std::string> order;
  for (auto& a : report.actors)
    order.push_back(a.actor);
  // Reverse start order, but `second` only once `first` (which routes to it) has stopped: it
  // then goes before `early`, which started before both.
  CHECK(order == std::vector<std::string>{"late", "plain", "first", "second", "early"});
  CHECK(report.clean());
}

TEST_CASE("stop() on another thread than the runtime's creator ends, and so does the destructor",
          "[lifecycle][shutdown][threads]") {
  auto rt = std::make_unique<runtime>(builtin_kinds(), lbtest::quick_options());
  lbtest::spawn_echo(*rt, "e");
  REQUIRE(rt->actor<echo>("e")->call(echo_request{1}, 5s).ok());
  auto stopped = std::make_shared<std::promise<bool>>();
  auto done = stopped->get_future();
  std::thread stopper([stopped, r = rt.get()] { stopped->set_value(r->stop().clean()); });
  if (done.wait_for(10s) != std::future_status::ready) {
    stopper.detach(); // hung: report it rather than hang the suite
    (void)rt.release();
    FAIL("stop() on another thread did not return within 10 s");
  }
  CHECK(done.get());
  stopper.join();
  rt.reset();
}

TEST_CASE("every handle type used after stop fails with loop.stopped and never hangs",
          "[lifecycle][shutdown]") {
  auto rt = std::make_unique<runtime>(builtin_kinds(), lbtest::quick_options());
  auto h = lbtest::spawn_echo(*rt, "echo");
  auto inbox = rt->subscribe({});
  auto pending = h.submit(echo_request{"slow", 10s});
  rt->stop();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(h.submit(echo_request{1}).get().is(errc::stopped));
  CHECK(h.call(echo_request{1}, 5s).is(errc::stopped));
  CHECK(pending.get().is(errc::stopped));
  CHECK(rt->spawn("late", "echo").is(errc::stopped));
  CHECK(rt->stop_actor("echo", 1s).get().ok()); // already stopped: its stopped event
  CHECK(rt->metrics("echo").ok());              // counters stay readable
  auto late_inbox = rt->subscribe({});
  CHECK(late_inbox.next(5s).is(errc::stopped));
  rt.reset(); // the runtime object is gone; handles and inboxes live on
  CHECK(h.call(echo_request{1}, 5s).is(errc::stopped));
  while (inbox.try_next()) {
  }
  CHECK(inbox.next(5s).is(errc::stopped));
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

// -- metrics --------------------------------------------------------------------------------------

TEST_CASE("metrics count exactly what was sent", "[lifecycle][metrics]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "counted", {{"delay", 1ms}});
  std::vector<future<echo_reply>> ok, failing, cancelled;
  for (int i = 0; i < 30; ++i)
    ok.push_back(h.submit(echo_request{i}));
  for (int i = 0; i < 7; ++i)
    failing.push_back(h.submit(echo_request{i, 0ms, 0ms, true}));
  for (int i = 0; i < 5; ++i)
    cancelled.push_back(h.submit(echo_request{i, 10s}));
  for (auto& f : cancelled)
    f.cancel();
  for (auto& f : ok)
    REQUIRE(f.get().ok());
  for (auto& f : failing)
    REQUIRE(f.get().is(echo_errc::failed));
  for (auto& f : cancelled)
    REQUIRE(f.get().is(errc::cancelled));
  // The loop updates its counters as the reports arrive: wait for them, with a deadline.
  REQUIRE(lbtest::eventually([&] {
    auto m = rt.metrics("counted");
    return m->completed + m->failed + m->cancelled == 42;
  }));
  auto m = rt.metrics("counted").value();
  CHECK(m.kind == "echo");
  CHECK(m.received == 42);
  CHECK(m.completed == 30);
  CHECK(m.failed == 7);
  CHECK(m.cancelled == 5);
  CHECK(m.queued == 0);
  CHECK(m.in_flight == 0);
  CHECK(m.p50 >= 1ms);
  CHECK(m.p99 >= m.p50);
  CHECK(m.p99 < 1s);
  auto all = rt.metrics();
  REQUIRE(all.size() == 1);
  CHECK(all[0].name == "counted");
}

TEST_CASE("a stop right after a burst of spawns stops every actor and resolves every request",
          "[lifecycle][shutdown][scale]") {
  // The loop creates committed actors in batches: some are still waiting to be created when
  // the stop arrives. Those never start, and their requests fail instead of waiting.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  const int n = 3000;
  std::vector<future<echo_reply>> replies;
  for (int i = 0; i < n; ++i) {
    auto name = "burst." + std::to_string(i);
    REQUIRE(rt.spawn(echo_spec(name)).ok());
    replies.push_back(rt.actor<echo>(name).value().submit(echo_request{i}, 30s));
  }
  auto& report = rt.stop();
  INFO(report.to_string().substr(0, 2000));
  CHECK(report.actors.size() == static_cast<std::size_t>(n));
  CHECK(report.stuck.empty());
  CHECK_FALSE(report.loop_stuck);
  auto [answered, refused] = answered_and_refused(replies, {errc::stopped});
  CHECK(answered + refused == n);
  CHECK(report.actors.front().actor == "burst." + std::to_string(n - 1)); // reverse order
}

TEST_CASE("a stop while a pool's instances are being made ends every one of them cleanly",
          "[lifecycle][shutdown][scale]") {
  // A scheduled pool's instances are made on the scheduler's threads in batches: when the stop
  // arrives, some batches are out and some instances not made yet. Those made meanwhile are
  // dropped unlaunched (their exits still reach the loop), the rest are never made, and the
  // stop neither waits for them in vain nor loses a request.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  const std::uint32_t n = 20000;
  REQUIRE(rt.spawn(echo_spec("crowd", {}, n)).ok());
  auto h = rt.actor<echo>("crowd").value();
  std::vector<future<echo_reply>> replies;
  for (int i = 0; i < 100; ++i)
    replies.push_back(h.submit(echo_request{i}, 30s));
  auto& report = rt.stop();
  INFO(report.to_string().substr(0, 2000));
  CHECK(report.stuck.empty());
  CHECK_FALSE(report.loop_stuck);
  REQUIRE(report.actors.size() == 1);
  auto [answered, refused] = answered_and_refused(replies, {errc::stopped, errc::cancelled});
  CHECK(answered + refused == 100);
}

TEST_CASE("an actor whose instance was still to be made when the runtime stopped serves what "
          "it holds",
          "[lifecycle][shutdown]") {
  // The only scheduler thread is held by a handler while 600 actors are spawned: two batches
  // of their instances are out, the rest wait in the loop, when the stop comes. The last one
  // spawned (the first to stop) holds a request and has no instance yet: it still gets one
  // and answers, and the shutdown does not wait out its budget.
  held_scheduler hold;
  auto& rt = hold.rt;
  const int n = 600; // more than two batches of 256
  for (int i = 0; i < n; ++i)
    REQUIRE(rt.spawn(echo_spec("late." + std::to_string(i))).ok());
  auto last = rt.actor<echo>("late." + std::to_string(n - 1)).value();
  auto reply = last.submit(echo_request{2}, 10s);
  auto first = rt.actor<echo>("late.0").value();
  auto stopping = std::async(std::launch::async, [&] { return rt.stop().to_string(); });
  // Submits are refused once the stop began; the loop hears of the stop before the batches,
  // which wait for the thread the handler holds until now.
  std::vector<future<echo_reply>> probes; // accepted before the stop: served, or refused
  REQUIRE(lbtest::eventually([&] {
    probes.push_back(first.submit(echo_request{3}));
    return probes.back().ready() && probes.back().get().is(errc::stopped);
  }));
  hold.let_go();
  REQUIRE(stopping.wait_for(10s) == std::future_status::ready);
  auto report = stopping.get();
  INFO(report.substr(0, 2000));
  REQUIRE(reply.wait_for(10s));
  CHECK(reply.get().ok());
  CHECK(hold.held.get().ok());
  CHECK(report.find("budget") == std::string::npos); // nothing waited out the budget
}

TEST_CASE("an instance killed before it was launched is restarted like any other",
          "[lifecycle][supervision]") {
  // The kill reaches the loop while the instance's batch is being made (or, on a fast
  // machine, just after it was launched): either way it fails once and its restart serves.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto spec = echo_spec("fragile", {}, 2);
  spec.restart = {restart_policy::on_failure, 5, 60s};
  REQUIRE(rt.spawn(spec).ok());
  REQUIRE(testing::kill_instance(rt, "fragile", 1).ok());
  auto h = rt.actor<echo>("fragile").value();
  for (int i = 0; i < 20; ++i)
    REQUIRE(h.call(echo_request{i}, 10s).ok());
  CHECK(lbtest::eventually([&] { return rt.metrics("fragile")->restarts == 1; }));
  CHECK(rt.stop().stuck.empty());
}

TEST_CASE("a route between actors committed a moment ago takes effect", "[lifecycle][routes]") {
  // The two stages are the last of a burst of spawns: the route reaches the loop before it
  // created them.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  const int n = 3000;
  for (int i = 0; i < n; ++i)
    REQUIRE(rt.spawn(echo_spec("stage." + std::to_string(i))).ok());
  auto from = "stage." + std::to_string(n - 2), to = "stage." + std::to_string(n - 1);
  REQUIRE(rt.add_route(from, to).ok());
  auto entry = rt.actor<echo>(from).value();
  auto r = rt.submit_pipeline<echo_reply>(entry, echo_request{7}, 30s).get();
  REQUIRE(r.ok());
  CHECK(r->payload == value{7});
  auto m = rt.metrics(to);
  REQUIRE(m.ok());
  CHECK(m->completed == 1); // the request went on to the second stage
  CHECK(rt.stop().clean());
}

TEST_CASE("thousands of named actors and a large pool start, answer and stop cleanly",
          "[lifecycle][scale]") {
  // Each instance's ready deadline, each spawn's name check and the shutdown order cost
  // O(log n) per actor, and a stop of many actors that have nothing to drain does not recurse
  // once per actor (it overflowed the loop thread's stack at 10,000).
  // 120k instances in the release build, 22k under ASan, 6k under TSan (its slowest build).
  const std::uint32_t named = lbtest::address_sanitizer || lbtest::thread_sanitizer ? 2000 : 20000;
  const std::uint32_t pooled = lbtest::thread_sanitizer    ? 4000
                               : lbtest::address_sanitizer ? 20000
                                                           : 100000;
  runtime rt{builtin_kinds()};
  std::vector<actor_spec> specs;
  for (std::uint32_t i = 0; i < named; ++i)
    specs.push_back(echo_spec("a" + std::to_string(i)));
  specs.push_back(echo_spec("pool", {}, pooled));
  REQUIRE(rt.start(std::move(specs)).ok());
  // Every named actor answers (a sample of them would hide a lost name), and the pool does.
  std::vector<future<echo_reply>> replies;
  for (std::uint32_t i = 0; i < named; ++i)
    replies.push_back(rt.actor<echo>("a" + std::to_string(i))
                          .value()
                          .submit(echo_request{static_cast<std::int64_t>(i)}, 30s));
  auto pool = rt.actor<echo>("pool").value();
  for (std::uint32_t i = 0; i < 1000; ++i)
    replies.push_back(pool.submit(echo_request{static_cast<std::int64_t>(i)}, 30s));
  for (auto& f : replies)
    REQUIRE(f.get().ok());
  auto& report = rt.stop();
  INFO(report.to_string().substr(0, 2000));
  CHECK(report.clean());
  CHECK_FALSE(report.loop_stuck);
  CHECK(report.actors.size() == named + 1);
  CHECK(report.actors.back().actor == "a0"); // reverse start order: the first started stops last
}
