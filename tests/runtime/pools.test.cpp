// Pools, the one backpressure model (capacity plus an overflow policy), supervision with restart
// budgets, and routes that make pipelines.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/actors/writer.hpp"
#include "loopbridge/testing/faults.hpp"
#include "loopbridge/tools/workload.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

actor_spec pool(std::string name, std::uint32_t count, value params, std::size_t capacity = 0,
                overflow_policy overflow = overflow_policy::block) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = "echo";
  s.count = count;
  s.params = std::move(params);
  s.mailbox.capacity = capacity;
  s.mailbox.overflow = overflow;
  return s;
}

std::pair<int, int> outcomes(std::vector<future<echo_reply>>& fs, error_code failure) {
  int ok = 0, failed = 0;
  for (auto& f : fs) {
    auto r = f.get();
    if (r.ok())
      ++ok;
    else if (r.is(failure))
      ++failed;
  }
  return {ok, failed};
}

} // namespace

// -- overflow policies ----------------------------------------------------------------------------

TEST_CASE("reject: a full pool fails new requests at once with loop.overloaded", "[pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("slow", 2, {{"block", 50ms}}, 4, overflow_policy::reject)).value();
  auto h = rt.actor<echo>("slow").value();
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(h.submit(echo_request{i}));
  auto [ok, overloaded] = outcomes(fs, errc::overloaded);
  CHECK(ok + overloaded == 20);
  CHECK(ok >= 4);
  CHECK(overloaded >= 10);
  // The loop counts a request when its worker's report arrives: wait for the last reports.
  REQUIRE(lbtest::eventually([&] {
    auto m = rt.metrics("slow").value();
    return m.completed + m.failed == 20;
  }));
  auto m = rt.metrics("slow").value();
  CHECK(m.received == 20);
  CHECK(m.completed == static_cast<std::uint64_t>(ok));
  CHECK(m.failed == static_cast<std::uint64_t>(overloaded));
  CHECK(m.max_held <= 4); // never held more than its capacity
}

TEST_CASE("drop_oldest: a full pool drops its oldest queued request", "[pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("slow", 1, {{"block", 100ms}}, 4, overflow_policy::drop_oldest)).value();
  auto h = rt.actor<echo>("slow").value();
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 10; ++i)
    fs.push_back(h.submit(echo_request{i}));
  std::vector<int> served, dropped;
  for (int i = 0; i < 10; ++i) {
    auto r = fs[i].get();
    if (r.ok())
      served.push_back(i);
    else if (r.is(errc::overloaded))
      dropped.push_back(i);
  }
  CHECK(served.size() + dropped.size() == 10);
  REQUIRE_FALSE(dropped.empty());
  // The newest requests survive: the last two submitted were served.
  CHECK(std::find(served.begin(), served.end(), 9) != served.end());
  CHECK(std::find(served.begin(), served.end(), 8) != served.end());
  CHECK(rt.metrics("slow")->max_held <= 4);
}

TEST_CASE("block: submitters wait for room, every request is served", "[pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("slow", 2, {{"block", 5ms}}, 4, overflow_policy::block)).value();
  auto h = rt.actor<echo>("slow").value();
  std::vector<future<echo_reply>> fs;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i)
    fs.push_back(h.submit(echo_request{i})); // blocks while 4 are held
  // With 2 instances of 5 ms, 16 of the 20 had to wait for room.
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  auto [ok, failed] = outcomes(fs, errc::overloaded);
  CHECK(ok == 20);
  CHECK(failed == 0);
  CHECK(rt.metrics("slow")->max_held <= 4);
}

TEST_CASE("block: a submitter whose deadline passes while waiting gets loop.timeout", "[pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("stuck", 1, {{"block", 500ms}}, 1, overflow_policy::block)).value();
  auto h = rt.actor<echo>("stuck").value();
  auto busy = h.submit(echo_request{"busy"});
  auto t0 = std::chrono::steady_clock::now();
  auto waiting = h.submit(echo_request{"late"}, 50ms);
  auto r = waiting.get();
  REQUIRE(r.is(errc::timeout));
  CHECK(r.error().message() == "deadline passed while waiting for room in stuck (capacity 1)");
  CHECK(std::chrono::steady_clock::now() - t0 < 400ms);
  CHECK(busy.get().ok());
}

TEST_CASE("a pool spreads requests over its instances", "[pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("workers", 4, {{"block", 2ms}})).value();
  auto h = rt.actor<echo>("workers").value();
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 40; ++i)
    fs.push_back(h.submit(echo_request{i}));
  std::set<std::uint32_t> instances;
  for (auto& f : fs)
    instances.insert(f.get()->instance);
  CHECK(instances.size() == 4);
}

// -- supervision ----------------------------------------------------------------------------------

TEST_CASE("a pool whose instances crash every Nth request restarts them and loses nothing",
          "[pools][supervision]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::restarted}, {}, 1024});
  // Instances on dedicated threads run one request at a time: each crash fails exactly the
  // request it was running.
  auto spec = pool("crashy", 3, {{"crash_every", 5}, {"block", 1ms}});
  spec.restart = {restart_policy::on_failure, 1000, 60s};
  rt.spawn(spec).value();
  auto h = rt.actor<echo>("crashy").value();
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 200; ++i)
    fs.push_back(h.submit(echo_request{i}));
  int ok = 0, crashed = 0, other = 0;
  for (auto& f : fs) {
    auto r = f.get();
    if (r.ok())
      ++ok;
    else if (r.is(errc::worker_failed))
      ++crashed;
    else
      ++other;
  }
  CHECK(other == 0);
  CHECK(ok + crashed == 200); // nothing lost
  CHECK(crashed >= 30);       // every fifth request of each incarnation
  REQUIRE(lbtest::eventually(
      [&] { return rt.metrics("crashy")->restarts == static_cast<std::uint64_t>(crashed); }));
  auto m = rt.metrics("crashy").value();
  CHECK(m.restarts == static_cast<std::uint64_t>(crashed)); // one restart per crash
  std::size_t events = 0;
  while (inbox.try_next())
    ++events;
  CHECK(events == m.restarts);
}

TEST_CASE("when the restart budget is spent the actor stops and says why", "[pools][supervision]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::stopped, event_type::restarted}, {}, 64});
  auto spec = pool("fragile", 1, {{"crash_every", 1}});
  spec.restart = {restart_policy::on_failure, 2, 60s};
  rt.spawn(spec).value();
  auto h = rt.actor<echo>("fragile").value();
  for (int i = 0; i < 3; ++i)
    CHECK(h.call(echo_request{i}, 5s).is(errc::worker_failed));
  auto after = h.call(echo_request{"again"}, 5s);
  REQUIRE(after.is(errc::stopped));
  CHECK(after.error().message().find("restart budget spent (2 restarts within 1m)") !=
        std::string::npos);
  int restarted = 0;
  while (auto e = inbox.next(2s)) {
    if (std::holds_alternative<restarted_event>(*e)) {
      ++restarted;
      continue;
    }
    auto& s = std::get<stopped_event>(*e);
    CHECK(s.reason.message().find("restart budget spent") != std::string::npos);
    break;
  }
  CHECK(restarted == 2);
}

TEST_CASE("slow_down makes every request wait first, a request cancelled meanwhile never runs",
          "[pools][faults]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  for (bool dedicated : {false, true}) {
    auto name = dedicated ? std::string{"threaded"} : std::string{"scheduled"};
    auto e = lbtest::spawn_echo(rt, name, {{"dedicated", dedicated}});
    REQUIRE(testing::slow_down(rt, name, 150ms).ok());
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(e.call(echo_request{1}, 5s).ok());
    CHECK(std::chrono::steady_clock::now() - t0 >= 150ms);
    auto doomed = e.submit(echo_request{2});
    doomed.cancel();
    CHECK(doomed.get().is(errc::cancelled));
    REQUIRE(testing::slow_down(rt, name, 0s).ok());
    auto stats = e.call(echo_stats_request{}, 5s);
    REQUIRE(stats.ok());
    CHECK(stats->received == 1); // the cancelled request's handler never ran
  }
  CHECK(testing::slow_down(rt, "nobody", 1s).is(errc::not_found));
}

TEST_CASE("kill_instance fails the request it ran, the restarted instance serves the rest",
          "[pools][supervision]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto spec = pool("victim", 1, {{"block", 200ms}});
  spec.restart = {restart_policy::on_failure, 5, 60s};
  rt.spawn(spec).value();
  auto h = rt.actor<echo>("victim").value();
  auto running = h.submit(echo_request{"running"});
  auto waiting = h.submit(echo_request{"waiting"});
  REQUIRE_FALSE(running.wait_for(50ms));
  REQUIRE(testing::kill_instance(rt, "victim", 0).ok());
  auto r = running.get();
  REQUIRE(r.is(errc::worker_failed));
  CHECK(r.error().message() == "victim/0 was killed (kill_instance)");
  CHECK(waiting.get().ok()); // requeued, served by the new incarnation
  CHECK(rt.metrics("victim")->restarts == 1);
  CHECK(testing::kill_instance(rt, "victim", 3).is(errc::not_found));
}

// -- routes and pipelines -------------------------------------------------------------------------

TEST_CASE("a three-stage pipeline passes the request through every stage", "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  for (auto name : {"a", "b", "c"})
    lbtest::spawn_echo(rt, name);
  REQUIRE(rt.add_route("a", "b").ok());
  REQUIRE(rt.add_route("b", "c").ok());
  context_scope scope{context{}.with("trace", "p-1")};
  auto f = rt.submit_pipeline<echo_reply>(rt.actor<echo>("a").value(), echo_request{"job"});
  auto id = f.id();
  REQUIRE(id > 0);
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->payload == value{"job"});
  CHECK(r->request_id == id); // the id flowed through every stage
  CHECK(r->context == value::map{{"trace", value{"p-1"}}});
  for (auto name : {"a", "b", "c"})
    CHECK(rt.metrics(name)->completed == 1);
}

TEST_CASE("a pipeline whose middle stage fails reports the first error, naming the stage",
          "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "fetch");
  lbtest::spawn_echo(rt, "thumb", {{"fail_every", 1}});
  lbtest::spawn_echo(rt, "write");
  REQUIRE(rt.add_route("fetch", "thumb").ok());
  REQUIRE(rt.add_route("thumb", "write").ok());
  auto r = rt.submit_pipeline<echo_reply>(rt.actor<echo>("fetch").value(), echo_request{1}).get();
  REQUIRE(r.is(echo_errc::failed));
  CHECK(r.error().message() == "stage 2 (thumb) failed: failed on purpose (fail_every 1)");
  CHECK(rt.metrics("write")->received == 0); // the last stage never saw it
}

TEST_CASE("a pipeline whose reply type does not match says which route is missing", "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "a");
  lbtest::spawn_echo(rt, "b");
  auto entry = rt.actor<echo>("a").value();
  auto none = rt.submit_pipeline<echo_stats>(entry, echo_request{1}).get();
  REQUIRE(none.is(errc::bad_request));
  CHECK(none.error().message() ==
        "the pipeline from 'a' has no route: 'a' answers 'echo' itself, with another reply type "
        "than the one asked for (add a route from 'a' under 'routes:' in the topology)");
  REQUIRE(rt.add_route("a", "b").ok());
  auto routed = rt.submit_pipeline<echo_stats>(entry, echo_request{1}).get();
  REQUIRE(routed.is(errc::bad_request));
  CHECK(routed.error().message() == "the pipeline from 'a' ends at 'b' (request 'echo'), whose "
                                    "reply type is not the one asked for");
  CHECK(rt.metrics("a")->received == 0); // refused before anything ran
}

TEST_CASE("cancelling a pipeline reaches the stage that holds it", "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "first");
  auto second = lbtest::spawn_echo(rt, "second", {{"delay", 10s}});
  lbtest::spawn_echo(rt, "third");
  REQUIRE(rt.add_route("first", "second").ok());
  REQUIRE(rt.add_route("second", "third").ok());
  auto f = rt.submit_pipeline<echo_reply>(rt.actor<echo>("first").value(), echo_request{"x"});
  // In flight at the loop is not enough: the request may still wait in the lane, and one
  // cancelled there never runs. Wait until the stage's handler holds it.
  REQUIRE(lbtest::eventually([&] { return second.call(echo_stats_request{}, 5s)->received == 1; }));
  f.cancel();
  CHECK(f.get().is(errc::cancelled));
  CHECK(lbtest::eventually([&] { return second.call(echo_stats_request{}, 5s)->saw_cancel == 1; }));
  CHECK(rt.metrics("third")->received == 0);
}

TEST_CASE("a pipeline's deadline covers every stage", "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "quick", {{"delay", 30ms}});
  lbtest::spawn_echo(rt, "slow", {{"delay", 10s}});
  REQUIRE(rt.add_route("quick", "slow").ok());
  auto t0 = std::chrono::steady_clock::now();
  auto r =
      rt.submit_pipeline<echo_reply>(rt.actor<echo>("quick").value(), echo_request{1}, 100ms).get();
  REQUIRE(r.is(errc::timeout));
  CHECK(r.error().message().find("stage 2 (slow)") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("a full downstream block pool holds the upstream stage back by credit", "[routes]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  rt.spawn(pool("fast", 2, {})).value();
  rt.spawn(pool("slow", 2, {{"block", 10ms}}, 4, overflow_policy::block)).value();
  REQUIRE(rt.add_route("fast", "slow").ok());
  auto entry = rt.actor<echo>("fast").value();
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 60; ++i)
    fs.push_back(rt.submit_pipeline<echo_reply>(entry, echo_request{i}));
  for (auto& f : fs)
    REQUIRE(f.get().ok());
  auto slow = rt.metrics("slow").value();
  CHECK(slow.received == 60);
  CHECK(slow.max_held <= 4); // observed: the downstream never held more than its capacity
  CHECK(rt.metrics("fast")->max_held > 4); // the backlog waited upstream instead
}

TEST_CASE("routes are checked: unknown actors, self routes, fan-out, cycles, missing adapters",
          "[routes]") {
  lbtest::temp_dir scratch{"loopbridge-route-check"};
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  for (auto name : {"a", "b", "c"})
    lbtest::spawn_echo(rt, name);
  rt.spawn("w", "writer", {{"root", scratch.path()}}).value();
  CHECK(rt.add_route("a", "zz").is(errc::not_found));
  CHECK(rt.add_route("a", "a").is(errc::bad_request));
  REQUIRE(rt.add_route("a", "b").ok());
  CHECK(rt.add_route("a", "c").error().message() == "route a -> c: a already routes to b");
  REQUIRE(rt.add_route("b", "c").ok());
  CHECK(rt.add_route("c", "a").error().message() == "route c -> a would form a cycle");
  CHECK(rt.add_route("c", "w").error().message() ==
        "route c -> w: no adapter from a reply of echo to a request of writer (register one "
        "with kind_registry::adapt)");
  // A pipeline asking for the wrong final reply type fails at once.
  auto wrong = rt.submit_pipeline<echo_stats>(rt.actor<echo>("a").value(), echo_request{1}).get();
  CHECK(wrong.is(errc::bad_request));
}

// -- workloads ------------------------------------------------------------------------------------

TEST_CASE("run_workload drives generated requests through a pipeline", "[workload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "in", {{"delay", 1ms}});
  lbtest::spawn_echo(rt, "out", {{"fail_every", 10}});
  REQUIRE(rt.add_route("in", "out").ok());
  workload_spec w;
  w.entry = "in";
  w.request = "echo";
  w.generate = value{{"fields", value{{"payload", "job {i}"}}}};
  w.total = 50;
  w.concurrency = 8;
  std::vector<tools::workload_progress> progress;
  tools::workload_options o;
  o.progress_interval = 10ms;
  o.on_progress = [&](const tools::workload_progress& p) { progress.push_back(p); };
  auto r = tools::run_workload(rt, w, o);
  CHECK(r.submitted == 50);
  CHECK(r.succeeded + r.failed == 50);
  CHECK(r.failed == 5); // every tenth request failed in the second stage
  CHECK(r.errors_by_code["echo.failed"] == 5);
  CHECK(r.outcomes.size() == 50);
  CHECK(r.p50 > 0ns);
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back().done == 50);
  CHECK(tools::substitute_index(value{{"a", value::list{"x{i}y", 3}}}, 7) ==
        value{{"a", value::list{"x7y", 3}}});
}

TEST_CASE("workload placeholders: {i}, {i%N}, ${actor.key}, and context fields reach adapters",
          "[workload]") {
  // An adapter that writes each echo reply to the file its request's context names.
  auto kinds = builtin_kinds();
  kinds.adapt<echo_reply, write_request>([](echo_reply&& r, const context& ctx) {
    write_request w;
    w.path = ctx.find("output")->as_string();
    auto text = r.payload.as_string();
    w.data.assign(text.begin(), text.end());
    return w;
  });
  lbtest::temp_dir scratch{"loopbridge-workload"};
  auto root = scratch.path();
  runtime rt{kinds, lbtest::quick_options()};
  REQUIRE(rt.spawn("o", "http_origin", {{"root", root}}).ok());
  // Answered once the origin is ready (requests wait for ready), so its ready info is known.
  REQUIRE(rt.actor<http_origin>("o").value().call(origin_info_request{}, 10s).ok());
  lbtest::spawn_echo(rt, "in");
  REQUIRE(rt.spawn("w", "writer", {{"root", root}}).ok());
  REQUIRE(rt.add_route("in", "w").ok());
  auto url = rt.ready_info("o").value().find("url")->as_string();
  workload_spec w;
  w.entry = "in";
  w.request = "echo";
  w.generate = value{{"fields", value{{"payload", "${o.url}/img-{i%3}.jpg"}}}};
  w.context = value{{"output", "r{i}.txt"}};
  w.total = 7;
  w.concurrency = 3;
  auto r = tools::run_workload(rt, w);
  CHECK(r.error.empty());
  CHECK(r.succeeded == 7);
  for (int i = 0; i < 7; ++i)
    CHECK(lbtest::slurp(root + "/r" + std::to_string(i) + ".txt") ==
          url + "/img-" + std::to_string(i % 3) + ".jpg");
  // {i%N} with a bad N, and text that only looks like a placeholder, stay as they are.
  CHECK(tools::substitute_index(value{"{i%0} {i%x} {i} {j} {i"}, 5) ==
        value{"{i%0} {i%x} 5 {j} {i"});
  // An unknown actor or key: nothing is sent, the error says which placeholder.
  w.generate = value{{"fields", value{{"payload", "${o.nope}"}}}};
  auto bad = tools::run_workload(rt, w);
  CHECK(bad.submitted == 0);
  CHECK(bad.error == "workload: '${o.nope}': actor 'o' announced no 'nope' when it became ready");
  w.generate = value{{"fields", value{{"payload", "${nobody.url}"}}}};
  CHECK(tools::run_workload(rt, w).error.find("actor 'nobody'") != std::string::npos);
}

TEST_CASE("run_workload stops sending when asked and waits for what is in flight", "[workload]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  lbtest::spawn_echo(rt, "e", {{"delay", 5ms}});
  workload_spec w;
  w.entry = "e";
  w.request = "echo";
  w.requests = {value{{"payload", 1}}};
  w.total = 100000;
  w.concurrency = 4;
  std::atomic<bool> stop{false};
  tools::workload_options o;
  o.stop = &stop;
  o.progress_interval = 20ms;
  o.on_progress = [&](const tools::workload_progress& p) {
    if (p.done >= 20)
      stop = true;
  };
  auto r = tools::run_workload(rt, w, o);
  CHECK(r.interrupted);
  CHECK(r.submitted < 1000);
  CHECK(r.succeeded == r.submitted); // what was sent was awaited
}
