// The host API: cancellation that reaches the worker, gather, as_completed, task groups, the
// per-request context, the event inbox, pollable descriptors, and blocking calls made from the
// wrong thread.
#include <catch2/catch.hpp>

#include <mutex>
#include <poll.h>
#include <random>
#include <set>
#include <thread>

#include "loopbridge/completion_queue.hpp"
#include "loopbridge/groups.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN);
}

// A kind whose handler makes blocking host calls, to see where they are allowed.
struct probe_reply {
  std::string call_error;  ///< the error of a nested call(), empty if it succeeded
  std::string get_error;   ///< the error of a nested future::get()
  std::string inbox_error; ///< the error of a nested event_inbox::next()
  value payload;           ///< what the nested call returned
  value::map context;      ///< the context the nested echo saw
  bool nested_deadline_capped = false;
};
struct probe_request {
  using reply_type = probe_reply;
  actor_handle<echo> target;
  event_inbox* inbox = nullptr;
};
class probe_worker;
struct probe {
  static constexpr const char* name = "probe";
  using requests = request_list<probe_request>;
  using worker = probe_worker;
  static std::vector<param_decl> params() {
    return {param_decl::boolean("dedicated", false, "run on a dedicated thread")};
  }
  static loopbridge::execution execution(const loopbridge::params& p) {
    return p.boolean("dedicated") ? execution::dedicated_thread : execution::scheduled;
  }
};
class probe_worker : public worker {
public:
  explicit probe_worker(worker_context&) {}
  void handle(probe_request& req, responder<probe_reply>& r) {
    probe_reply out;
    auto called = req.target.call(echo_request{"nested"}, 2s);
    if (called) {
      out.payload = called->payload;
      out.context = called->context;
    } else {
      out.call_error = called.error().name();
    }
    // Delayed, so the future is still pending at get(): a resolved future's get() does not
    // block, and succeeds on any thread.
    auto f = req.target.submit(echo_request{"nested-future", 100ms});
    // The nested request inherits at most the remaining deadline of this one.
    out.nested_deadline_capped = f.valid();
    auto got = f.get();
    if (!got)
      out.get_error = got.error().name();
    if (req.inbox) {
      auto e = req.inbox->next(10ms);
      if (!e)
        out.inbox_error = e.error().name();
    }
    r.reply(std::move(out));
  }
};

// A kind that notes the order in which its one instance handles requests: (thread, number).
struct order_request {
  using reply_type = std::int64_t;
  std::int64_t thread = 0;
  std::int64_t number = 0;
};
struct order_log {
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, std::int64_t>> seen;
};
order_log& handled_order() {
  static order_log log;
  return log;
}
class order_worker;
struct ordered {
  static constexpr const char* name = "ordered";
  using requests = request_list<order_request>;
  using worker = order_worker;
  static std::vector<param_decl> params() {
    return {param_decl::boolean("dedicated", false, "run on a thread of its own")};
  }
  static loopbridge::execution execution(const loopbridge::params& p) {
    return p.boolean("dedicated") ? loopbridge::execution::dedicated_thread
                                  : loopbridge::execution::scheduled;
  }
};
class order_worker : public worker {
public:
  explicit order_worker(worker_context&) {}
  void handle(order_request& req, responder<std::int64_t>& r) {
    {
      auto& log = handled_order();
      std::lock_guard<std::mutex> guard{log.mutex};
      log.seen.emplace_back(req.thread, req.number);
    }
    r.reply(req.number);
  }
};

kind_registry kinds() {
  auto k = builtin_kinds();
  k.add<probe>();
  k.add<ordered>();
  return k;
}

} // namespace

// -- cancellation ---------------------------------------------------------------------------------

TEST_CASE("cancel of a queued request: it never runs", "[cancel]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "one_at_a_time", {{"dedicated", true}});
  auto busy = h.submit(echo_request{"busy", 0ms, 300ms});
  auto prefetched = h.submit(echo_request{"prefetched"}); // handed to the instance's thread
  auto queued = h.submit(echo_request{"queued"});         // waits in the loop's queue
  prefetched.cancel();
  queued.cancel();
  CHECK(prefetched.get().is(errc::cancelled));
  CHECK(queued.get().is(errc::cancelled));
  REQUIRE(busy.get().ok());
  auto stats = h.call(echo_stats_request{}, 5s);
  REQUIRE(stats.ok());
  CHECK(stats->received == 1); // neither cancelled request ran
  CHECK(stats->saw_cancel == 0);
}

TEST_CASE("cancel of a running request: the worker sees its cancel token", "[cancel]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  SECTION("a blocking handler polling the token") {
    auto h = lbtest::spawn_echo(rt, "blocker", {{"dedicated", true}});
    auto f = h.submit(echo_request{"long", 0ms, 10s});
    // Wait until the worker runs it (the stats request queues behind it, so ask another way).
    REQUIRE_FALSE(f.wait_for(50ms));
    auto t0 = std::chrono::steady_clock::now();
    f.cancel();
    CHECK(f.get().is(errc::cancelled));
    auto stats = h.call(echo_stats_request{}, 5s); // answered once the handler let go
    REQUIRE(stats.ok());
    CHECK(stats->received == 1);
    CHECK(stats->saw_cancel == 1);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
  SECTION("a scheduled handler holding it on a timer") {
    auto h = lbtest::spawn_echo(rt, "timer");
    auto f = h.submit(echo_request{"long", 10s});
    REQUIRE_FALSE(f.wait_for(20ms));
    f.cancel();
    f.cancel(); // idempotent
    CHECK(f.get().is(errc::cancelled));
    CHECK(lbtest::eventually([&] { return h.call(echo_stats_request{}, 5s)->saw_cancel == 1; }));
  }
}

TEST_CASE("a future resolves once: a cancel after the reply changes nothing", "[cancel]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  auto f = h.submit(echo_request{7});
  REQUIRE(f.wait_for(5s));
  f.cancel();
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->payload == value{7});
}

// -- gather and as_completed ----------------------------------------------------------------------

TEST_CASE("gather returns every value in submission order", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(h.submit(echo_request{i, std::chrono::milliseconds((20 - i) * 2)}));
  auto all = gather(std::move(fs));
  REQUIRE(all.ok());
  auto& values = all.values();
  REQUIRE(values.size() == 20);
  for (int i = 0; i < 20; ++i)
    CHECK(values[i].payload == value{i});
}

TEST_CASE("gather returns the first failure with its index", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  std::vector<future<echo_reply>> fs;
  fs.push_back(h.submit(echo_request{0, 200ms}));
  fs.push_back(h.submit(echo_request{1, 100ms, 0ms, true})); // fails after 100 ms
  fs.push_back(h.submit(echo_request{2, 0ms, 0ms, true}));   // fails at once: the first
  auto all = gather(std::move(fs));
  REQUIRE_FALSE(all.ok());
  CHECK(all.failure().index == 2);
  CHECK(all.failure().error.is(echo_errc::failed));
  CHECK_THROWS_AS(all.values(), error_exception);
}

TEST_CASE("as_completed yields in completion order under random delays", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  std::mt19937 rng{42};
  std::uniform_int_distribution<int> delay_ms{0, 60};
  std::vector<int> delays;
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 40; ++i) {
    delays.push_back(delay_ms(rng) * 5); // 5 ms steps: distinct enough to order reliably
    fs.push_back(h.submit(echo_request{i, std::chrono::milliseconds(delays.back())}));
  }
  as_completed<echo_reply> done{std::move(fs)};
  std::vector<std::size_t> order;
  while (done.remaining() > 0) {
    auto c = done.next(5s);
    REQUIRE(c.ok());
    REQUIRE(c->value.ok());
    CHECK(c->value->payload == value{static_cast<int>(c->index)}); // index matches its future
    order.push_back(c->index);
  }
  CHECK(done.next(10ms).is(errc::not_found));
  REQUIRE(order.size() == 40);
  for (std::size_t i = 1; i < order.size(); ++i)
    CHECK(delays[order[i - 1]] <= delays[order[i]]);
}

TEST_CASE("as_completed reports members it cannot watch at once, and every other at its own "
          "index",
          "[groups]") {
  // Member 1 is no future at all and member 3 is watched by another queue: each comes back
  // first with loop.bad_request; the others keep their own index (none is shifted onto a
  // neighbour's), and nothing waits for a completion that would never be reported.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  completion_queue elsewhere;
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 5; ++i)
    fs.push_back(i == 1 ? future<echo_reply>{} : h.submit(echo_request{i, 20ms}));
  REQUIRE(elsewhere.watch(fs[3]).ok());
  as_completed<echo_reply> done{std::move(fs)};
  auto first = done.try_next();
  REQUIRE(first);
  CHECK(first->index == 1);
  CHECK(first->value.is(errc::bad_request));
  auto second = done.next(5s);
  REQUIRE(second.ok());
  CHECK(second->index == 3);
  CHECK(second->value.is(errc::bad_request));
  std::set<std::size_t> answered;
  while (done.remaining() > 0) {
    auto c = done.next(5s);
    REQUIRE(c.ok());
    REQUIRE(c->value.ok());
    CHECK(c->value->payload == value{static_cast<int>(c->index)});
    answered.insert(c->index);
  }
  CHECK(answered == std::set<std::size_t>{0, 2, 4});
  CHECK(done.next(10ms).is(errc::not_found));
}

TEST_CASE("in_order waits for each member in turn, an invalid one comes back at its turn with "
          "loop.bad_request",
          "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  std::vector<future<echo_reply>> fs;
  fs.push_back(h.submit(echo_request{0, 150ms})); // completes after the others
  fs.push_back(future<echo_reply>{});
  fs.push_back(h.submit(echo_request{2}));
  in_order<echo_reply> results{std::move(fs)};
  CHECK(results.next(1ms).is(errc::timeout)); // member 0 is not done yet: nothing skipped
  auto first = results.next(5s);
  REQUIRE(first.ok());
  CHECK(first->index == 0);
  REQUIRE(first->value.ok());
  CHECK(first->value->payload == value{0});
  auto second = results.next(5s);
  REQUIRE(second.ok());
  CHECK(second->index == 1);
  CHECK(second->value.is(errc::bad_request));
  auto third = results.next(5s);
  REQUIRE(third.ok());
  CHECK(third->index == 2);
  REQUIRE(third->value.ok());
  CHECK(third->value->payload == value{2});
  CHECK(results.next(1ms).is(errc::not_found));
}

TEST_CASE("a long-lived completion queue reports the tokens its host chose", "[groups]") {
  // A host keeps a window of slots busy through one queue, naming each request by its slot:
  // every completion comes back as the slot it was watched under, with that slot's reply.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo", {{"dedicated", true}}, 2);
  constexpr std::size_t window = 16, total = 20000;
  completion_queue q;
  std::vector<future<echo_reply>> slots(window);
  std::vector<int> sent_in(window, -1);
  int sent = 0;
  std::size_t got = 0;
  auto send = [&](std::size_t s) {
    slots[s] = h.submit(echo_request{sent});
    sent_in[s] = sent++;
    REQUIRE(q.watch(slots[s], s).ok());
  };
  for (std::size_t s = 0; s < window; ++s)
    send(s);
  while (got < total) {
    auto s = q.pop(10s);
    REQUIRE(s.ok());
    REQUIRE(*s < window);
    auto r = slots[*s].get();
    REQUIRE(r.ok());
    CHECK(r->payload == value{sent_in[*s]});
    ++got;
    if (static_cast<std::size_t>(sent) < total)
      send(*s);
  }
  CHECK(q.watched() == total);
  CHECK_FALSE(q.try_pop());
}

TEST_CASE("a completion queue's descriptor becomes readable when a future completes", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  completion_queue q;
  auto slow = h.submit(echo_request{"slow", 100ms});
  auto token = q.watch(slow);
  REQUIRE(token.ok());
  CHECK(*token == 0);
  CHECK(q.watch(slow).is(errc::bad_request)); // one queue per future
  CHECK_FALSE(readable(q.fd(), 0ms));
  CHECK_FALSE(q.try_pop());
  REQUIRE(readable(q.fd(), 5000ms));
  auto got = q.try_pop();
  REQUIRE(got);
  CHECK(*got == 0);
  CHECK(slow.ready());
  CHECK_FALSE(readable(q.fd(), 0ms)); // drained: no longer readable
  CHECK(q.pop(10ms).is(errc::timeout));
}

TEST_CASE("a completion queue's descriptor does not stay readable once everything was popped",
          "[groups]") {
  // Four worker threads complete requests while this thread pops them as fast as it can: a
  // signal that lands just after the last pop must not leave the descriptor readable for good
  // (a host's own event loop would spin on it).
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo", {{"dedicated", true}}, 4);
  for (int round = 0; round < 200; ++round) {
    completion_queue q;
    std::vector<future<echo_reply>> fs;
    for (int i = 0; i < 32; ++i) {
      fs.push_back(h.submit(echo_request{"x"}));
      REQUIRE(q.watch(fs.back()).ok());
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (std::size_t popped = 0; popped < fs.size();) {
      if (q.try_pop())
        ++popped;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
    // All popped; a last signal may still be on its way. Once it landed, a try_pop that finds
    // nothing clears the readiness.
    while (readable(q.fd(), 0ms)) {
      CHECK_FALSE(q.try_pop());
      REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
  }
}

// -- task groups ----------------------------------------------------------------------------------

TEST_CASE("a task group whose third member fails cancels the others and waits for their "
          "acknowledgements",
          "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto blockers = lbtest::spawn_echo(rt, "blockers", {{"dedicated", true}}, 4);
  auto fast = lbtest::spawn_echo(rt, "fast");
  std::vector<future<echo_reply>> members;
  task_group group{5s};
  members.push_back(group.submit(blockers, echo_request{0, 0ms, 10s}));
  members.push_back(group.submit(blockers, echo_request{1, 0ms, 10s}));
  members.push_back(group.submit(fast, echo_request{2, 20ms, 0ms, true})); // fails
  members.push_back(group.submit(blockers, echo_request{3, 0ms, 10s}));
  auto t0 = std::chrono::steady_clock::now();
  auto& outcome = group.wait();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  REQUIRE(outcome.failures.size() == 1);
  CHECK(outcome.failures[0].index == 2);
  CHECK(outcome.failures[0].error.is(echo_errc::failed));
  CHECK(outcome.cancelled == std::vector<std::size_t>{0, 1, 3});
  CHECK(outcome.unacknowledged.empty()); // every blocker let go of its request
  CHECK(outcome.summary().is(echo_errc::failed));
  for (auto i : {0, 1, 3})
    CHECK(members[i].get().is(errc::cancelled));
  // Nothing outlives the group: the pool holds nothing any more and counts three cancelled.
  auto m = rt.metrics("blockers").value();
  CHECK(m.in_flight == 0);
  CHECK(m.queued == 0);
  CHECK(m.cancelled == 3);
}

TEST_CASE("each thread's requests reach a one-instance actor in the order it submitted them",
          "[order]") {
  // A thread's first request after it waited for a result goes straight to the actor's lane
  // when the instance is idle; the rest of a burst, those with a deadline too near for that
  // (under `direct_margin`) and those behind them go through the loop. Either way, one thread's
  // requests are handled in the order it submitted them. The threads wait on round trips to
  // another actor in between, so that a request may go direct while earlier ones are still on
  // their way through the loop. A scheduled instance is woken through its actor, one on a
  // thread of its own through that thread's doorbell.
  bool dedicated = GENERATE(false, true);
  CAPTURE(dedicated);
  runtime rt{kinds(), lbtest::quick_options()};
  auto other = lbtest::spawn_echo(rt, "other");
  actor_spec log_spec;
  log_spec.name = "log";
  log_spec.kind = "ordered";
  log_spec.params = value{{"dedicated", dedicated}};
  REQUIRE(rt.start({log_spec}).ok());
  auto h = *rt.actor<ordered>("log");
  {
    std::lock_guard<std::mutex> guard{handled_order().mutex};
    handled_order().seen.clear();
  }
  constexpr int threads = 3;
  constexpr int each = 3000;
  std::vector<std::thread> ts;
  std::atomic<int> failed{0};
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng{static_cast<unsigned>(1000 + t)};
      std::vector<future<std::int64_t>> fs;
      auto collect = [&] {
        for (auto& f : fs)
          if (auto r = f.get(); !r && !r.is(errc::timeout))
            ++failed;
        fs.clear();
      };
      for (int i = 0; i < each; i += 2) {
        // The first through the loop (its deadline is too near to go direct); then, after a
        // round trip elsewhere, the second may go direct while the first is still on its way.
        fs.push_back(h.submit(order_request{t, i}, 9ms));
        if (rng() % 2 == 0 && !other.call(echo_request{i}, 10s))
          ++failed;
        fs.push_back(h.submit(order_request{t, i + 1}, 30s));
        if (rng() % 8 == 0) // now and then, wait for what is out
          collect();
      }
      collect();
    });
  for (auto& t : ts)
    t.join();
  CHECK(failed == 0);
  std::lock_guard<std::mutex> guard{handled_order().mutex};
  std::vector<std::int64_t> last(threads, -1);
  int out_of_order = 0;
  for (auto [t, n] : handled_order().seen) {
    if (n <= last[static_cast<std::size_t>(t)])
      ++out_of_order;
    last[static_cast<std::size_t>(t)] = n;
  }
  CHECK(out_of_order == 0);
  CHECK(handled_order().seen.size() > threads * each / 2); // most were handled, not timed out
}

TEST_CASE("a request handed straight to its actor's lane still times out at its deadline",
          "[deadline]") {
  // The loop learns of a direct submission after the fact, and must still time it out while
  // its handler runs: the echo's reply would come after 5 s (a timer, or a blocked thread).
  bool dedicated = GENERATE(false, true);
  CAPTURE(dedicated);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo", {{"dedicated", dedicated}});
  REQUIRE(h.call(echo_request{"warm"}, 5s).ok()); // its one instance is ready: the lane opens
  auto r = h.call(echo_request{"slow", 5s}, 200ms);
  CHECK(r.is(errc::timeout));
  auto m = rt.metrics("echo").value();
  CHECK(m.received == 2);
}

TEST_CASE("the counters catch up with round trips when nothing else reaches the loop",
          "[metrics]") {
  // A worker's report of a plain round trip does not wake the loop: the next submission brings
  // it. After the last one nothing does, and the loop thread must still come back for the
  // reports before it sleeps for good.
  bool dedicated = GENERATE(false, true);
  CAPTURE(dedicated);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo", {{"dedicated", dedicated}});
  constexpr int calls = 300;
  for (int i = 0; i < calls; ++i)
    REQUIRE(h.submit(echo_request{i}).get().ok());
  REQUIRE(lbtest::eventually([&] {
    auto m = rt.metrics("echo");
    return m->completed == calls && m->in_flight == 0;
  }));
  auto m = rt.metrics("echo").value();
  CHECK(m.received == calls);
  CHECK(m.failed + m.cancelled == 0);
}

TEST_CASE("a task group that succeeds waits for every member", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  std::vector<future<echo_reply>> members;
  {
    task_group group;
    for (int i = 0; i < 10; ++i)
      members.push_back(group.submit(h, echo_request{i, std::chrono::milliseconds(5 * i)}));
  } // the destructor waited
  for (auto& f : members) {
    REQUIRE(f.ready());
    CHECK(f.get().ok());
  }
}

TEST_CASE("an exception leaving a task group's scope cancels its members", "[groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "blocker", {{"dedicated", true}});
  future<echo_reply> member;
  try {
    task_group group{5s};
    member = group.submit(h, echo_request{"long", 0ms, 10s});
    throw std::runtime_error("host code failed");
  } catch (const std::runtime_error&) {
  }
  REQUIRE(member.ready());
  CHECK(member.get().is(errc::cancelled));
  // The worker had let go before the group's destructor returned: it answers at once.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(h.call(echo_request{"next"}, 5s).ok());
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
}

// -- context --------------------------------------------------------------------------------------

TEST_CASE("each request sees the context it was submitted with (the contextvars trap)",
          "[context]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo", {{"delay", 20ms}});
  context::set("user_id", 1);
  auto first = h.submit(echo_request{"a"});
  context::set("user_id", 2);
  auto second = h.submit(echo_request{"b"});
  context::set_current({});
  auto third = h.submit(echo_request{"c"});
  CHECK(first.get()->context == value::map{{"user_id", value{1}}});
  CHECK(second.get()->context == value::map{{"user_id", value{2}}});
  CHECK(third.get()->context.empty());
  {
    context_scope scope{context{}.with("tenant", "acme")};
    CHECK(h.call(echo_request{"d"}, 5s)->context == value::map{{"tenant", value{"acme"}}});
  }
  CHECK(context::current().empty()); // the scope restored the previous context
}

TEST_CASE("context flows into requests a worker submits while handling one", "[context]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto target = lbtest::spawn_echo(rt, "echo");
  probe_request req;
  req.target = target;
  rt.spawn("probe", "probe", {{"dedicated", true}}).value();
  auto p = rt.actor<probe>("probe").value();
  context_scope scope{context{}.with("trace", "t-1")};
  auto r = p.call(req, 5s);
  REQUIRE(r.ok());
  CHECK(r->call_error.empty());
  CHECK(r->context == value::map{{"trace", value{"t-1"}}});
}

// -- blocking calls from the wrong thread ---------------------------------------------------------

TEST_CASE("blocking calls from a scheduled actor's handler fail with loop.would_deadlock",
          "[would_deadlock]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto target = lbtest::spawn_echo(rt, "echo");
  rt.spawn("probe", "probe").value();
  auto p = rt.actor<probe>("probe").value();
  auto inbox = rt.subscribe({{event_type::stopped}, {}, 16});
  probe_request req;
  req.target = target;
  req.inbox = &inbox;
  auto t0 = std::chrono::steady_clock::now();
  auto r = p.call(req, 5s);
  REQUIRE(r.ok());
  CHECK(r->call_error == "loop.would_deadlock");
  CHECK(r->get_error == "loop.would_deadlock");
  CHECK(r->inbox_error == "loop.would_deadlock");
  CHECK(std::chrono::steady_clock::now() - t0 < 1s); // failed at once, no stall
}

TEST_CASE("the same blocking calls work from an actor on a dedicated thread", "[would_deadlock]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto target = lbtest::spawn_echo(rt, "echo");
  rt.spawn("probe", "probe", {{"dedicated", true}}).value();
  auto p = rt.actor<probe>("probe").value();
  auto inbox = rt.subscribe({{event_type::stopped}, {}, 16});
  probe_request req;
  req.target = target;
  req.inbox = &inbox;
  auto r = p.call(req, 5s);
  REQUIRE(r.ok());
  CHECK(r->call_error.empty());
  CHECK(r->payload == value{"nested"});
  CHECK(r->get_error.empty());
  CHECK(r->inbox_error == "loop.timeout"); // it waited its 10 ms: allowed here
}

// -- the event inbox ------------------------------------------------------------------------------

TEST_CASE("subscribers receive ready, done and stopped events as messages", "[events]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  // Only the types under test: a loop starved of CPU by a busy machine may add a
  // `slow_handler` event in between.
  auto inbox = rt.subscribe({{event_type::ready, event_type::done, event_type::stopped}, {}, 64});
  auto h = lbtest::spawn_echo(rt, "echo");
  auto ready = inbox.next(5s);
  REQUIRE(ready.ok());
  REQUIRE(std::holds_alternative<ready_event>(*ready));
  CHECK(std::get<ready_event>(*ready).actor == "echo");
  auto r = h.call(echo_request{1}, 5s);
  REQUIRE(r.ok());
  auto done = inbox.next(5s);
  REQUIRE(done.ok());
  REQUIRE(std::holds_alternative<done_event>(*done));
  CHECK(std::get<done_event>(*done).request_id == r->request_id);
  CHECK(std::get<done_event>(*done).ok());
  rt.stop();
  auto stopped = inbox.next(5s);
  REQUIRE(stopped.ok());
  REQUIRE(std::holds_alternative<stopped_event>(*stopped));
  CHECK(std::get<stopped_event>(*stopped).total_completed == 1);
  CHECK(std::get<stopped_event>(*stopped).completed == 0); // nothing was left for its stop
  CHECK(inbox.next(5s).is(errc::stopped));                 // the inbox reports the end
}

TEST_CASE("subscriptions filter by event type and actor", "[events]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto only_b = rt.subscribe({{event_type::ready}, {"b"}, 16});
  lbtest::spawn_echo(rt, "a");
  lbtest::spawn_echo(rt, "b");
  auto e = only_b.next(5s);
  REQUIRE(e.ok());
  CHECK(actor_of(*e) == "b");
  CHECK(type_of(*e) == event_type::ready);
  CHECK(only_b.next(50ms).is(errc::timeout));
}

TEST_CASE("a full inbox drops the oldest events and counts them", "[events]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "echo");
  auto inbox = rt.subscribe({{event_type::done}, {}, 5});
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 12; ++i)
    fs.push_back(h.submit(echo_request{i}));
  std::vector<std::uint64_t> ids;
  for (auto& f : fs)
    ids.push_back(f.get()->request_id);
  REQUIRE(lbtest::eventually([&] { return inbox.size() + inbox.dropped() == 12; }));
  CHECK(inbox.dropped() == 7);
  CHECK(inbox.size() == 5);
  // What is left are the newest five, oldest first.
  for (int i = 7; i < 12; ++i) {
    auto e = inbox.try_next();
    REQUIRE(e);
    CHECK(std::get<done_event>(*e).request_id == ids[i]);
  }
}

TEST_CASE("an event inbox's descriptor becomes readable when an event arrives", "[events]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::ready}, {}, 16});
  CHECK_FALSE(readable(inbox.fd(), 0ms));
  lbtest::spawn_echo(rt, "echo");
  REQUIRE(readable(inbox.fd(), 5000ms));
  REQUIRE(inbox.try_next());
  CHECK_FALSE(readable(inbox.fd(), 0ms));
}

TEST_CASE("a closed inbox's descriptor stays readable once its last events are taken", "[events]") {
  // A poller learns of the end from the descriptor: taking the events left must not hide it.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto inbox = rt.subscribe({{event_type::ready, event_type::stopped}, {}, 16});
  lbtest::spawn_echo(rt, "echo");
  REQUIRE(readable(inbox.fd(), 5000ms)); // its `ready` event is in (an actor stopped before
                                         // its instance was made announces none)
  rt.stop();                             // closes the inbox with `ready` and `stopped` in it
  REQUIRE(readable(inbox.fd(), 0ms));
  REQUIRE(inbox.try_next());
  REQUIRE(inbox.try_next());
  CHECK(readable(inbox.fd(), 0ms));
  CHECK(inbox.next(1s).is(errc::stopped));
}
