// Actors that talk to each other: handles from a worker's context, requests with continuations,
// fan-out, and what cancels, stops and restarts do to requests an actor made.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "loopbridge/testing/catch.hpp"
#include "support/paths.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

// -- relay: passes a request along a path of relays ------------------------------------------

/// What a test watches from inside the relays.
struct probe {
  std::atomic<int> holding{0};       ///< requests the last hop holds without answering
  std::atomic<int> saw_cancel{0};    ///< cancels the holding hop was told of
  std::atomic<int> continuations{0}; ///< continuations that ran
};

struct relay_reply {
  /// At each hop, in order: the request's absolute deadline and what was left of it.
  std::vector<std::chrono::steady_clock::time_point> deadlines;
  std::vector<std::chrono::nanoseconds> left;
  std::vector<std::string> hops;
  value context_user;
};
struct relay_request {
  using reply_type = relay_reply;
  std::vector<std::string> path; ///< the relays still to visit
  bool hold = false;             ///< the last hop holds the request until it is cancelled
  std::shared_ptr<probe> watch;
};

template <execution Mode>
class relay_worker;
template <execution Mode>
struct relay_kind {
  static constexpr const char* name =
      Mode == loopbridge::execution::scheduled ? "relay" : "relay_thread";
  using requests = request_list<relay_request>;
  using worker = relay_worker<Mode>;
  static loopbridge::execution execution(const params&) { return Mode; }
};
using relay = relay_kind<execution::scheduled>;
using relay_thread = relay_kind<execution::dedicated_thread>;

template <execution Mode>
class relay_worker : public worker {
public:
  explicit relay_worker(worker_context& ctx) : ctx_(ctx) {}

  void handle(relay_request& req, responder<relay_reply>& r) {
    auto now = std::chrono::steady_clock::now();
    relay_reply mine;
    mine.deadlines.push_back(r.deadline());
    mine.left.push_back(r.deadline() - now);
    mine.hops.push_back(ctx_.actor_name());
    if (auto* user = r.request_context().find("user"))
      mine.context_user = *user;
    if (req.path.empty()) {
      if (!req.hold) {
        r.reply(std::move(mine));
        return;
      }
      held_.push_back({r.id(), std::move(r)});
      req.watch->holding.fetch_add(1);
      watch_ = req.watch;
      return;
    }
    // The next hop may be of either mode.
    auto name = req.path.front();
    relay_request next{{req.path.begin() + 1, req.path.end()}, req.hold, req.watch};
    auto to = ctx_.actor<relay>(name);
    if (!to && to.is(errc::wrong_kind)) {
      auto other = ctx_.actor<relay_thread>(name);
      if (!other) {
        r.fail(other.error());
        return;
      }
      forward(*other, std::move(next), std::move(r), std::move(mine));
      return;
    }
    if (!to) {
      r.fail(to.error());
      return;
    }
    forward(*to, std::move(next), std::move(r), std::move(mine));
  }

  void on_cancel(std::uint64_t id) override {
    for (auto it = held_.begin(); it != held_.end(); ++it)
      if (it->first == id) {
        watch_->saw_cancel.fetch_add(1);
        it->second.fail(error{errc::cancelled, "held request cancelled"});
        held_.erase(it);
        return;
      }
  }

private:
  template <class Handle>
  void forward(const Handle& to, relay_request next, responder<relay_reply> r, relay_reply mine) {
    auto watch = next.watch;
    ctx_.request(
        to, std::move(next),
        [r = std::move(r), mine = std::move(mine), watch](result<relay_reply> got) mutable {
          if (watch)
            watch->continuations.fetch_add(1);
          if (!got) {
            r.fail(got.error());
            return;
          }
          for (std::size_t i = 0; i < got->hops.size(); ++i) {
            mine.deadlines.push_back(got->deadlines[i]);
            mine.left.push_back(got->left[i]);
            mine.hops.push_back(got->hops[i]);
          }
          r.reply(std::move(mine));
        });
  }

  worker_context& ctx_;
  std::vector<std::pair<std::uint64_t, responder<relay_reply>>> held_;
  std::shared_ptr<probe> watch_;
};

// -- fan: asks several echo actors, merges -----------------------------------------------------

struct fan_reply {
  std::vector<std::string> outcomes; ///< "ok <payload>" or the error's name and message
};
struct fan_request {
  using reply_type = fan_reply;
  std::vector<std::string> targets;             ///< echo actors, one request each
  std::vector<bool> fail;                       ///< which of them fail on purpose
  std::vector<std::chrono::milliseconds> delay; ///< each one's delay
  bool first_failure = false;                   ///< gather (else when_all)
};
/// Counts an instance's handlers and continuations with plain integers: two of them running
/// at once on one instance would be a data race (the TSan build reports it) and would be seen
/// as `overlaps`.
struct tally_reply {
  std::int64_t steps = 0;
  std::int64_t overlaps = 0;
};
struct tally_request {
  using reply_type = tally_reply;
  std::string echo;
  int rounds = 0; ///< requests made one after another from continuations
};
struct crash_request {
  using reply_type = tally_reply;
};
/// Asks `echo` `requests` times; the first continuation to run crashes the instance.
struct crash_later_request {
  using reply_type = tally_reply;
  int requests = 0;
};
struct lookup_request {
  using reply_type = fan_reply;
  std::string name;
};

class fan_worker;
struct fan {
  static constexpr const char* name = "fan";
  using requests =
      request_list<fan_request, tally_request, crash_request, crash_later_request, lookup_request>;
  using worker = fan_worker;
};

std::atomic<int> late_continuations{0};
/// Continuations of `crash_later_request` that ran: the one that crashed, and any after it.
std::atomic<int> crash_later_ran{0};

class fan_worker : public worker {
public:
  explicit fan_worker(worker_context& ctx) : ctx_(ctx) {}

  void handle(fan_request& req, responder<fan_reply>& r) {
    std::vector<future<echo_reply>> fs;
    for (std::size_t i = 0; i < req.targets.size(); ++i) {
      auto to = ctx_.actor<echo>(req.targets[i]);
      if (!to) {
        r.fail(to.error());
        return;
      }
      echo_request e{static_cast<std::int64_t>(i)};
      e.fail = req.fail[i];
      e.delay = req.delay[i];
      fs.push_back(ctx_.submit(*to, std::move(e)));
    }
    if (req.first_failure) {
      ctx_.gather(std::move(fs), [r = std::move(r)](result<std::vector<echo_reply>> all) mutable {
        fan_reply out;
        if (!all)
          out.outcomes.push_back(all.error().to_string());
        else
          for (auto& e : *all)
            out.outcomes.push_back("ok " + e.payload.to_string());
        r.reply(std::move(out));
      });
      return;
    }
    ctx_.when_all(std::move(fs), [r = std::move(r)](std::vector<result<echo_reply>> all) mutable {
      fan_reply out;
      for (auto& e : all)
        out.outcomes.push_back(e ? "ok " + e->payload.to_string() : e.error().to_string());
      r.reply(std::move(out));
    });
  }

  void handle(tally_request& req, responder<tally_reply>& r) {
    enter();
    auto to = ctx_.actor<echo>(req.echo);
    if (!to) {
      leave();
      r.fail(to.error());
      return;
    }
    step(*to, req.rounds, std::move(r));
    leave();
  }

  void handle(crash_request&, responder<tally_reply>& r) {
    // A request to a slow echo whose continuation must never run: the instance dies first.
    // Its responder waits in that continuation: the request is suspended when the instance
    // dies, and fails with it.
    ctx_.request(*ctx_.actor<echo>("slow"), echo_request{1, 10s},
                 [r = std::move(r)](result<echo_reply>) mutable {
                   late_continuations.fetch_add(1);
                   r.reply({});
                 });
    ctx_.crash(error{errc::worker_failed, "crashed on purpose"});
  }

  void handle(crash_later_request& req, responder<tally_reply>& r) {
    auto to = *ctx_.actor<echo>("e");
    auto held = std::make_shared<responder<tally_reply>>(std::move(r));
    for (int i = 0; i < req.requests; ++i)
      ctx_.request(to, echo_request{i}, [this, held](result<echo_reply>) {
        crash_later_ran.fetch_add(1);
        ctx_.crash(error{errc::worker_failed, "crashed in a continuation"});
      });
  }

  void handle(lookup_request& req, responder<fan_reply>& r) {
    fan_reply out;
    auto as_echo = ctx_.actor<echo>(req.name);
    out.outcomes.push_back(as_echo ? "echo ok" : as_echo.error().to_string());
    auto as_relay = ctx_.actor<relay>(req.name);
    out.outcomes.push_back(as_relay ? "relay ok" : as_relay.error().to_string());
    r.reply(std::move(out));
  }

private:
  void enter() {
    if (inside_)
      ++overlaps_;
    inside_ = true;
    ++steps_;
  }
  void leave() { inside_ = false; }

  void step(const actor_handle<echo>& to, int rounds, responder<tally_reply> r) {
    if (rounds == 0) {
      r.reply({steps_, overlaps_});
      return;
    }
    ctx_.request(to, echo_request{rounds},
                 [this, to, rounds, r = std::move(r)](result<echo_reply> got) mutable {
                   enter();
                   if (!got)
                     r.fail(got.error());
                   else
                     step(to, rounds - 1, std::move(r));
                   leave();
                 });
  }

  worker_context& ctx_;
  std::int64_t steps_ = 0;
  std::int64_t overlaps_ = 0;
  bool inside_ = false;
};

// -- merge: a fan-out kind as a scenario file sees it --------------------------------------------

struct merge_reply {
  std::int64_t answered = 0;
  std::int64_t failed = 0;
  template <class Inspector>
  friend auto inspect(Inspector& f, merge_reply& x) {
    return f(caf::meta::type_name("merge_reply"), field("answered"), x.answered, field("failed"),
             x.failed);
  }
};
struct merge_request {
  using reply_type = merge_reply;
  std::vector<std::string> from; ///< echo actors to ask
  bool fail_fast = false;        ///< `gather` (the first failure fails the request)
  template <class Inspector>
  friend auto inspect(Inspector& f, merge_request& x) {
    return f(caf::meta::type_name("merge_request"), field("from"), x.from, field("fail_fast"),
             x.fail_fast);
  }
};
class merge_worker;
struct merge {
  static constexpr const char* name = "merge";
  using requests = request_list<merge_request>;
  using worker = merge_worker;
};
class merge_worker : public worker {
public:
  explicit merge_worker(worker_context& ctx) : ctx_(ctx) {}
  void handle(merge_request& req, responder<merge_reply>& r) {
    std::vector<future<echo_reply>> fs;
    for (auto& name : req.from) {
      auto to = ctx_.actor<echo>(name);
      if (!to) {
        r.fail(to.error());
        return;
      }
      fs.push_back(ctx_.submit(*to, echo_request{name}));
    }
    if (req.fail_fast) {
      ctx_.gather(std::move(fs), [r = std::move(r)](result<std::vector<echo_reply>> all) mutable {
        if (!all)
          r.fail(all.error());
        else
          r.reply({static_cast<std::int64_t>(all->size()), 0});
      });
      return;
    }
    ctx_.when_all(std::move(fs), [r = std::move(r)](std::vector<result<echo_reply>> all) mutable {
      merge_reply out;
      for (auto& one : all)
        ++(one ? out.answered : out.failed);
      r.reply(out);
    });
  }

private:
  worker_context& ctx_;
};

kind_registry kinds() {
  auto k = builtin_kinds();
  k.add<merge>("asks echo actors at once and counts their answers");
  k.add<relay>();
  k.add<relay_thread>();
  k.add<fan>();
  return k;
}

actor_spec spec(std::string name, std::string kind, std::uint32_t count = 1) {
  actor_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.count = count;
  return s;
}

} // namespace

TEST_CASE("a request travels actor to actor with its context and a shrinking deadline", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("a", "relay"), spec("b", "relay_thread"), spec("c", "relay", 2)}).ok());
  context_scope user{context::current().with("user", "ada")};
  auto r = rt.actor<relay>("a")->call(relay_request{{"b", "c"}, false, nullptr}, 10s);
  REQUIRE(r.ok());
  REQUIRE(r->hops == std::vector<std::string>{"a", "b", "c"});
  // One absolute deadline everywhere; what is left of it shrinks at every hop.
  CHECK(r->deadlines[0] == r->deadlines[1]);
  CHECK(r->deadlines[1] == r->deadlines[2]);
  CHECK(r->left[0] <= 10s);
  CHECK(r->left[1] < r->left[0]);
  CHECK(r->left[2] < r->left[1]);
  CHECK(r->context_user == value{std::string{"ada"}});
}

TEST_CASE("a worker looks up actors by name and kind", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("fan", "fan"), spec("e", "echo")}).ok());
  auto h = *rt.actor<fan>("fan");
  auto found = h.call(lookup_request{"e"}, 5s);
  REQUIRE(found.ok());
  CHECK(found->outcomes[0] == "echo ok");
  CHECK(found->outcomes[1].rfind("loop.wrong_kind", 0) == 0);
  auto missing = h.call(lookup_request{"nobody"}, 5s);
  REQUIRE(missing.ok());
  CHECK(missing->outcomes[0].rfind("loop.not_found", 0) == 0);
  CHECK(missing->outcomes[1].rfind("loop.not_found", 0) == 0);
  // A failure of the next hop reaches the host, naming where it happened.
  auto r = rt.actor<relay>("fan");
  CHECK(r.is(errc::wrong_kind));
}

TEST_CASE("fan-out over all outcomes keeps order and names the failing actor", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("fan", "fan"), spec("e1", "echo"), spec("e2", "echo"), spec("e3", "echo")})
              .ok());
  fan_request req{{"e1", "e2", "e3"}, {false, true, false}, {30ms, 0ms, 10ms}, false};
  auto r = rt.actor<fan>("fan")->call(req, 10s);
  REQUIRE(r.ok());
  REQUIRE(r->outcomes.size() == 3);
  CHECK(r->outcomes[0] == "ok 0");
  CHECK(r->outcomes[1].rfind("echo.failed: e2: ", 0) == 0);
  CHECK(r->outcomes[2] == "ok 2");
}

TEST_CASE("fan-out that stops at the first failure cancels the others", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("fan", "fan"), spec("slow1", "echo"), spec("bad", "echo"),
                    spec("slow2", "echo")})
              .ok());
  fan_request req{{"slow1", "bad", "slow2"}, {false, true, false}, {60s, 0ms, 60s}, true};
  auto r = rt.actor<fan>("fan")->call(req, 30s);
  REQUIRE(r.ok());
  REQUIRE(r->outcomes.size() == 1);
  CHECK(r->outcomes[0].rfind("echo.failed: bad: ", 0) == 0);
  // The two slow members were cancelled, not left running for a minute.
  CHECK(lbtest::eventually(
      [&] { return rt.metrics("slow1")->cancelled == 1 && rt.metrics("slow2")->cancelled == 1; }));
  // Over no request at all: the continuation runs at once, with nothing.
  for (bool first_failure : {false, true}) {
    auto none = rt.actor<fan>("fan")->call(fan_request{{}, {}, {}, first_failure}, 10s);
    REQUIRE(none.ok());
    CHECK(none->outcomes.empty());
  }
  // All succeed: every reply, in order.
  fan_request fine{{"slow1", "bad", "slow2"}, {false, false, false}, {5ms, 0ms, 1ms}, true};
  auto ok = rt.actor<fan>("fan")->call(fine, 10s);
  REQUIRE(ok.ok());
  CHECK(ok->outcomes == std::vector<std::string>{"ok 0", "ok 1", "ok 2"});
}

TEST_CASE("continuations never run concurrently with the instance's handlers", "[peers]") {
  auto options = lbtest::quick_options();
  options.scheduler_threads = 4;
  runtime rt{kinds(), options};
  REQUIRE(rt.start({spec("fan", "fan"), spec("e", "echo", 4)}).ok());
  auto h = *rt.actor<fan>("fan");
  constexpr int requests = 200, rounds = 5;
  std::vector<future<tally_reply>> fs;
  for (int i = 0; i < requests; ++i)
    fs.push_back(h.submit(tally_request{"e", rounds}, 30s));
  std::int64_t most = 0;
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->overlaps == 0);
    most = std::max(most, r->steps);
  }
  // Every handler and continuation ran, one at a time, on this one instance.
  CHECK(most == requests * (1 + rounds));
}

TEST_CASE("cancelling a request cancels what it asked for two hops down", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("a", "relay"), spec("b", "relay_thread"), spec("c", "relay")}).ok());
  auto watch = std::make_shared<probe>();
  auto f = rt.actor<relay>("a")->submit(relay_request{{"b", "c"}, true, watch}, 60s);
  REQUIRE(lbtest::eventually([&] { return watch->holding.load() == 1; }));
  f.cancel();
  CHECK(f.get().is(errc::cancelled));
  // The cancel went a -> b -> c: c's worker heard of it and its request ended cancelled.
  REQUIRE(lbtest::eventually([&] { return watch->saw_cancel.load() == 1; }));
  CHECK(lbtest::eventually([&] {
    return rt.metrics("b")->cancelled == 1 && rt.metrics("c")->cancelled == 1 &&
           rt.metrics("c")->in_flight == 0 && rt.metrics("b")->in_flight == 0;
  }));
}

TEST_CASE("an outer deadline ends the requests it made", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("a", "relay"), spec("c", "relay")}).ok());
  auto watch = std::make_shared<probe>();
  auto r = rt.actor<relay>("a")->call(relay_request{{"c"}, true, watch}, 200ms);
  CHECK(r.is(errc::timeout));
  CHECK(lbtest::eventually(
      [&] { return rt.metrics("c")->in_flight == 0 && rt.metrics("a")->in_flight == 0; }));
}

TEST_CASE("an instance that dies with continuations pending runs none of them", "[peers]") {
  late_continuations = 0;
  runtime rt{kinds(), lbtest::quick_options()};
  auto fan_spec = spec("fan", "fan");
  fan_spec.restart.policy = restart_policy::on_failure;
  REQUIRE(rt.start({fan_spec, spec("slow", "echo"), spec("e", "echo")}).ok());
  auto h = *rt.actor<fan>("fan");
  auto r = h.call(crash_request{}, 10s);
  CHECK(r.is(errc::worker_failed));
  // Its request to `slow` ended cancelled when it died ...
  REQUIRE(lbtest::eventually(
      [&] { return rt.metrics("slow")->cancelled == 1 && rt.metrics("slow")->in_flight == 0; }));
  // ... and the restarted instance works, without running the old continuation.
  auto after = h.call(tally_request{"e", 2}, 10s);
  REQUIRE(after.ok());
  CHECK(after->steps == 3);
  CHECK(late_continuations.load() == 0);
}

TEST_CASE("no continuation runs after one crashed its instance", "[peers]") {
  // Many answers come back at once, so their continuations reach the instance together; the
  // first one to run crashes the worker, and none of the others may run on it afterwards.
  crash_later_ran = 0;
  runtime rt{kinds(), lbtest::quick_options()};
  auto fan_spec = spec("fan", "fan");
  fan_spec.restart.policy = restart_policy::on_failure;
  REQUIRE(rt.start({fan_spec, spec("e", "echo")}).ok());
  auto h = *rt.actor<fan>("fan");
  auto r = h.call(crash_later_request{200}, 10s);
  CHECK(r.is(errc::worker_failed));
  CHECK(crash_later_ran.load() == 1);
  // The restarted instance works, and the old continuations never reach it.
  auto after = h.call(tally_request{"e", 2}, 10s);
  REQUIRE(after.ok());
  CHECK(after->steps == 3);
  CHECK(crash_later_ran.load() == 1);
}

TEST_CASE("stopping an actor drains its continuations, then cancels what is left", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("fan", "fan"), spec("e", "echo"), spec("slow", "echo")}).ok());
  auto h = *rt.actor<fan>("fan");
  // Suspended requests whose inner requests answer soon: the stop waits for them.
  std::vector<future<fan_reply>> quick;
  for (int i = 0; i < 5; ++i)
    quick.push_back(h.submit(fan_request{{"e"}, {false}, {50ms}, false}, 10s));
  REQUIRE(lbtest::eventually([&] { return rt.metrics("e")->in_flight == 5; }));
  auto stopped = rt.stop_actor("fan", 5s).get();
  REQUIRE(stopped.ok());
  for (auto& f : quick) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->outcomes == std::vector<std::string>{"ok 0"});
  }
  // One that cannot drain in time: its inner request ends cancelled with the stop.
  REQUIRE(rt.spawn(spec("fan2", "fan")).ok());
  auto f = rt.actor<fan>("fan2")->submit(fan_request{{"slow"}, {false}, {60s}, false}, 60s);
  REQUIRE(lbtest::eventually([&] { return rt.metrics("slow")->in_flight == 1; }));
  auto cut = rt.stop_actor("fan2", 100ms).get();
  REQUIRE(cut.ok());
  CHECK(f.get().is(errc::stopped));
  CHECK(lbtest::eventually(
      [&] { return rt.metrics("slow")->cancelled == 1 && rt.metrics("slow")->in_flight == 0; }));
  auto& report = rt.stop();
  INFO(report.to_string());
  CHECK(report.stuck.empty());
}

TEST_CASE("suspended requests leave their instance free for more", "[peers]") {
  // A dedicated instance is handed two requests at a time; one whose handler returned without
  // answering no longer counts: a single instance holds many suspended requests.
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.start({spec("a", "relay"), spec("held", "relay_thread")}).ok());
  auto watch = std::make_shared<probe>();
  constexpr int n = 6;
  std::vector<future<relay_reply>> fs;
  for (int i = 0; i < n; ++i)
    fs.push_back(rt.actor<relay_thread>("held")->submit(relay_request{{}, true, watch}, 60s));
  REQUIRE(lbtest::eventually([&] { return watch->holding.load() == n; }));
  CHECK(rt.metrics("held")->in_flight == n);
  CHECK(rt.metrics("held")->queued == 0);
  for (auto& f : fs)
    f.cancel();
  for (auto& f : fs)
    CHECK(f.get().is(errc::cancelled));
  CHECK(lbtest::eventually([&] { return watch->saw_cancel.load() == n; }));
  // Once they ended, the instance still serves one at a time as before.
  auto ok = rt.actor<relay_thread>("held")->call(relay_request{{}, false, nullptr}, 5s);
  CHECK(ok.ok());
}

TEST_CASE("a scenario file tests a kind that fans out, down to the requests it sent",
          "[peers][scenario]") {
  auto result = testing::check_scenario(
      lbtest::source_dir() + "/tests/runtime/fan_out.scenario.yaml", kinds());
  CHECK(result.steps.size() == 7); // the start and six steps
}

TEST_CASE("max_suspended bounds what one instance holds suspended", "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto held = spec("held", "relay_thread");
  held.max_suspended = 3;
  REQUIRE(rt.start({held}).ok());
  auto watch = std::make_shared<probe>();
  std::vector<future<relay_reply>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(rt.actor<relay_thread>("held")->submit(relay_request{{}, true, watch}, 60s));
  REQUIRE(lbtest::eventually(
      [&] { return watch->holding.load() == 3 && rt.metrics("held")->suspended == 3; }));
  // At its bound it takes no fourth; once one ends, it takes the next.
  CHECK(watch->holding.load() == 3);
  fs[0].cancel();
  CHECK(fs[0].get().is(errc::cancelled));
  REQUIRE(lbtest::eventually([&] { return watch->holding.load() == 4; }));
  CHECK(rt.metrics("held")->suspended == 3);
  for (auto& f : fs)
    f.cancel();
  CHECK(lbtest::eventually([&] { return rt.metrics("held")->in_flight == 0; }));
  CHECK(rt.metrics("held")->suspended == 0);
}

namespace {
// -- waiter: answers after a delay, from a timer ------------------------------------------------

struct wait_request {
  using reply_type = std::int64_t;
  std::chrono::milliseconds delay{0};
  std::int64_t tag = 0;
};
template <execution Mode>
class waiter_worker;
template <execution Mode>
struct waiter_kind {
  static constexpr const char* name =
      Mode == loopbridge::execution::scheduled ? "waiter" : "waiter_thread";
  using requests = request_list<wait_request>;
  using worker = waiter_worker<Mode>;
  static loopbridge::execution execution(const params&) { return Mode; }
};
template <execution Mode>
class waiter_worker : public worker {
public:
  explicit waiter_worker(worker_context& ctx) : ctx_(ctx) {}
  void handle(wait_request& req, responder<std::int64_t>& r) {
    auto id = r.id();
    waiting_.emplace_back(id, std::move(r));
    ctx_.after(req.delay, [this, id, tag = req.tag] { answer(id, tag); });
  }
  void on_cancel(std::uint64_t id) override { answer(id, -1); }

private:
  void answer(std::uint64_t id, std::int64_t tag) {
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
      if (it->first == id) {
        it->second.reply(tag);
        waiting_.erase(it);
        return;
      }
  }
  worker_context& ctx_;
  std::vector<std::pair<std::uint64_t, responder<std::int64_t>>> waiting_;
};
} // namespace

TEMPLATE_TEST_CASE("a timer is a message: the instance serves others while it waits", "[peers]",
                   waiter_kind<execution::scheduled>, waiter_kind<execution::dedicated_thread>) {
  auto k = kinds();
  k.add<TestType>();
  runtime rt{std::move(k), lbtest::quick_options()};
  REQUIRE(rt.start({spec("w", TestType::name)}).ok());
  auto h = *rt.actor<TestType>("w");
  // The first waits a minute on its timer; the one instance answers the next ones meanwhile.
  auto long_wait = h.submit(wait_request{60000ms, 1}, 120s);
  for (std::int64_t i = 2; i < 6; ++i) {
    auto r = h.call(wait_request{0ms, i}, 10s);
    REQUIRE(r.ok());
    CHECK(*r == i);
  }
  CHECK_FALSE(long_wait.ready());
  long_wait.cancel();
  CHECK(long_wait.get().is(errc::cancelled));
}

TEST_CASE("a handler's request to a full block actor waits in the loop, not on its thread",
          "[peers]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto narrow = spec("narrow", "echo");
  narrow.mailbox.capacity = 1;
  narrow.mailbox.overflow = overflow_policy::block;
  REQUIRE(rt.start({spec("fan", "fan"), narrow}).ok());
  auto n = *rt.actor<echo>("narrow");
  auto held = n.submit(echo_request{"held", 60s}, 120s); // takes the one place
  REQUIRE(lbtest::eventually([&] { return rt.metrics("narrow")->in_flight == 1; }));
  auto f = rt.actor<fan>("fan")->submit(fan_request{{"narrow"}, {false}, {0ms}, false}, 30s);
  REQUIRE(lbtest::eventually([&] { return rt.metrics("fan")->sent == 1; }));
  // The fan's handler returned (nothing blocked its thread): the fan answers another request.
  auto other = rt.actor<fan>("fan")->call(fan_request{{}, {}, {}, false}, 10s);
  CHECK(other.ok());
  CHECK_FALSE(f.ready()); // its inner request waits for the place, not loop.overloaded
  CHECK(rt.metrics("narrow")->received == 1);
  held.cancel(); // the place frees: the waiting request is accepted and answered
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->outcomes == std::vector<std::string>{"ok 0"});
  CHECK(rt.metrics("narrow")->received == 2);

  // Its deadline ends the wait.
  auto held2 = n.submit(echo_request{"held", 60s}, 120s);
  REQUIRE(lbtest::eventually([&] { return rt.metrics("narrow")->in_flight == 1; }));
  auto late = rt.actor<fan>("fan")->call(fan_request{{"narrow"}, {false}, {0ms}, false}, 200ms);
  CHECK(late.is(errc::timeout));
  REQUIRE(lbtest::eventually([&] { return rt.metrics("fan")->in_flight == 0; }));
  CHECK(rt.metrics("narrow")->received == 3); // the timed-out one was never accepted
  held2.cancel();
  CHECK(lbtest::eventually([&] { return rt.metrics("narrow")->in_flight == 0; }));
}
