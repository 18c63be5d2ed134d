// Where handlers run: scheduled instances in parallel on the scheduler's threads (never on the
// loop's), pools that hand a request to whichever instance is free, the stall detector, and
// blocking calls that would deadlock. Parallelism is proven with barriers, never with timings.
#include <catch2/catch.hpp>

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

/// A barrier for `parties` threads that gives up at a deadline.
class barrier {
public:
  explicit barrier(int parties) : left_(parties) {}
  /// True if every party arrived before `deadline`.
  bool arrive_and_wait(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    if (--left_ <= 0) {
      cv_.notify_all();
      return true;
    }
    return cv_.wait_until(lock, deadline, [&] { return left_ <= 0; });
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int left_;
};

/// A latch the test opens.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard<std::mutex> lock{mutex};
    open = true;
    cv.notify_all();
  }
  bool wait(std::chrono::nanoseconds timeout) {
    std::unique_lock<std::mutex> lock{mutex};
    return cv.wait_for(lock, timeout, [&] { return open; });
  }
};

struct where_reply {
  std::string thread;
  std::uint32_t instance = 0;
  bool met = true;         ///< the barrier opened, the gate opened, the flag came
  std::uint64_t order = 0; ///< when the handler ran, among all handlers of the test
  std::string inner_error; ///< the error of a nested call, if any
};
/// Meets the other handlers at `meet` (if set), or waits for `hold` to open (if set), or waits
/// until `flag` is set (spinning: a handler that keeps its thread busy), then replies where it
/// ran. With `call_self` it first calls its own actor (through `self`) once more.
struct where_request {
  using reply_type = where_reply;
  std::shared_ptr<barrier> meet;
  std::shared_ptr<gate> hold;
  std::shared_ptr<std::atomic<bool>> flag;
  std::shared_ptr<event_inbox> inbox; ///< wait here for this handler's own slow_handler event
  int call_self = 0;
};

std::atomic<std::uint64_t> handler_order{0};

class where_worker;
struct where_kind {
  static constexpr const char* name = "where";
  using requests = request_list<where_request>;
  using worker = where_worker;
  static std::vector<param_decl> params() {
    return {param_decl::boolean("dedicated", false, "run on a dedicated thread")};
  }
  static loopbridge::execution execution(const loopbridge::params& p) {
    return p.boolean("dedicated") ? execution::dedicated_thread : execution::scheduled;
  }
};

/// Set by the test before it submits `call_self` requests (a kind's worker cannot reach the
/// runtime otherwise yet).
actor_handle<where_kind> where_self;

class where_worker : public worker {
public:
  explicit where_worker(worker_context& ctx) : ctx_(ctx) {}
  void handle(where_request& req, responder<where_reply>& r) {
    where_reply out;
    out.thread = thread_name();
    out.instance = ctx_.instance();
    out.order = ++handler_order;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    if (req.meet)
      out.met = req.meet->arrive_and_wait(deadline);
    if (req.hold)
      out.met = req.hold->wait(20s);
    if (req.flag)
      while (!req.flag->load() && (out.met = std::chrono::steady_clock::now() < deadline)) {
      }
    if (req.inbox) {
      out.met = false;
      while (auto e = req.inbox->next(deadline - std::chrono::steady_clock::now()))
        if (auto* slow = std::get_if<slow_handler_event>(&*e);
            slow && slow->actor == ctx_.actor_name() && slow->instance == ctx_.instance()) {
          out.met = true;
          break;
        }
    }
    if (req.call_self > 0) {
      where_request inner;
      inner.call_self = req.call_self - 1;
      auto got = where_self.call(std::move(inner), 10s);
      if (!got)
        out.inner_error = got.error().name();
      else
        out.inner_error = got->inner_error;
    }
    r.reply(std::move(out));
  }

private:
  worker_context& ctx_;
};

kind_registry kinds() {
  auto k = builtin_kinds();
  k.add<where_kind>();
  return k;
}

runtime_options two_threads() {
  auto o = lbtest::quick_options();
  o.scheduler_threads = 2;
  return o;
}

actor_handle<where_kind> spawn_where(runtime& rt, const std::string& name, std::uint32_t count,
                                     bool dedicated) {
  actor_spec spec;
  spec.name = name;
  spec.kind = "where";
  spec.count = count;
  spec.params = value::map{{"dedicated", dedicated}};
  REQUIRE(rt.spawn(spec).ok());
  return rt.actor<where_kind>(name).value();
}

} // namespace

TEST_CASE("two instances of a scheduled pool run at the same moment, on scheduler threads",
          "[scheduler]") {
  runtime rt{kinds(), two_threads()};
  auto pool = spawn_where(rt, "pool", 2, false);
  auto meet = std::make_shared<barrier>(2);
  auto a = pool.submit(where_request{meet, {}, {}, {}, 0}, 30s);
  auto b = pool.submit(where_request{meet, {}, {}, {}, 0}, 30s);
  auto ra = a.get();
  auto rb = b.get();
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(ra->met); // both handlers were inside at once: the barrier opened before its deadline
  CHECK(rb->met);
  CHECK(ra->instance != rb->instance);
  CHECK(ra->thread != rb->thread);
  for (auto* r : {&*ra, &*rb}) {
    INFO(r->thread);
    CHECK(r->thread.rfind("lb.sched.", 0) == 0); // never lb.loop
  }
}

TEST_CASE("an instance handles its requests one at a time and in order", "[scheduler]") {
  runtime rt{kinds(), two_threads()};
  auto e = lbtest::spawn_echo(rt, "e");
  std::vector<future<echo_reply>> fs;
  for (int i = 0; i < 2000; ++i)
    fs.push_back(e.submit(echo_request{i}));
  std::uint64_t last = 0;
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->received == last + 1); // the instance saw them in submission order
    last = r->received;
  }
}

TEST_CASE("a fresh pool of dedicated instances runs one request on each at once",
          "[scheduler][pools]") {
  runtime rt{kinds(), lbtest::quick_options()};
  auto pool = spawn_where(rt, "threads", 8, true);
  auto meet = std::make_shared<barrier>(8);
  std::vector<future<where_reply>> fs;
  for (int i = 0; i < 8; ++i) // right after the spawn: instances become ready one by one
    fs.push_back(pool.submit(where_request{meet, {}, {}, {}, 0}, 30s));
  std::set<std::uint32_t> instances;
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->met);
    CHECK(r->thread.rfind("lb.threads.", 0) == 0);
    instances.insert(r->instance);
  }
  CHECK(instances.size() == 8);
  // Now ready and idle: the loop wakes one instance per batch and each woken instance wakes
  // the next while requests wait, so a burst still reaches all eight at once, every round.
  for (int round = 0; round < 20; ++round) {
    INFO("round " << round);
    auto all = std::make_shared<barrier>(8);
    std::vector<future<where_reply>> burst;
    for (int i = 0; i < 8; ++i)
      burst.push_back(pool.submit(where_request{all, {}, {}, {}, 0}, 30s));
    for (auto& f : burst) {
      auto r = f.get();
      REQUIRE(r.ok());
      CHECK(r->met);
    }
  }
}

TEST_CASE("queued requests go to the free instance, not behind a long one", "[scheduler][pools]") {
  for (bool dedicated : {true, false}) {
    INFO((dedicated ? "dedicated" : "scheduled"));
    runtime rt{kinds(), two_threads()};
    auto pool = spawn_where(rt, "pair", 2, dedicated);
    // Both instances are ready once each answered something.
    auto meet = std::make_shared<barrier>(2);
    auto w1 = pool.submit(where_request{meet, {}, {}, {}, 0}, 30s);
    auto w2 = pool.submit(where_request{meet, {}, {}, {}, 0}, 30s);
    REQUIRE(w1.get().ok());
    REQUIRE(w2.get().ok());
    auto hold = std::make_shared<gate>();
    auto long_one = pool.submit(where_request{{}, hold, {}, {}, 0}, 30s);
    std::vector<future<where_reply>> shorts;
    for (int i = 0; i < 5; ++i)
      shorts.push_back(pool.submit(where_request{}, 30s));
    std::vector<where_reply> done;
    for (auto& f : shorts) {
      auto r = f.get(); // completes while the long one still holds its instance
      REQUIRE(r.ok());
      done.push_back(*r);
    }
    CHECK_FALSE(long_one.ready());
    hold->release();
    auto l = long_one.get();
    REQUIRE(l.ok());
    for (std::size_t i = 0; i < done.size(); ++i) {
      CHECK(done[i].instance != l->instance);
      if (i > 0)
        CHECK(done[i].order > done[i - 1].order); // in submission order
    }
  }
}

TEST_CASE("a handler that runs too long is reported while it still runs", "[scheduler][stall]") {
  auto options = two_threads();
  options.slow_handler = 50ms;
  runtime rt{kinds(), options};
  SECTION("a dedicated handler receives its own slow_handler event") {
    auto slow = spawn_where(rt, "slow", 1, true);
    auto inbox =
        std::make_shared<event_inbox>(rt.subscribe({{event_type::slow_handler}, {"slow"}, 16}));
    where_request req;
    req.inbox = inbox;
    auto r = slow.call(std::move(req), 30s);
    REQUIRE(r.ok());
    CHECK(r->met); // the event came while the handler was still running
    CHECK(rt.metrics("slow")->slow_handlers == 1);
  }
  SECTION("a scheduled handler that keeps its thread busy is named in the event") {
    auto busy = spawn_where(rt, "busy", 1, false);
    auto inbox = rt.subscribe({{event_type::slow_handler}, {"busy"}, 16});
    auto flag = std::make_shared<std::atomic<bool>>(false);
    auto f = busy.submit(where_request{{}, {}, flag, {}, 0}, 30s);
    auto e = inbox.next(20s);
    flag->store(true); // the handler ends only now
    REQUIRE(e.ok());
    auto& slow = std::get<slow_handler_event>(*e);
    CHECK(slow.actor == "busy");
    CHECK(slow.instance == 0);
    CHECK(slow.request_type.find("where_request") != std::string::npos);
    CHECK(slow.elapsed >= 50ms);
    CHECK(slow.thread.rfind("lb.sched.", 0) == 0);
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->met);
    CHECK_FALSE(inbox.try_next()); // once per occurrence
  }
}

TEST_CASE("a dedicated handler calling its own actor with nobody left to serve it fails at once",
          "[scheduler][would_deadlock]") {
  runtime rt{kinds(), lbtest::quick_options()};
  SECTION("one instance") {
    where_self = spawn_where(rt, "alone", 1, true);
    auto r = where_self.call(where_request{{}, {}, {}, {}, 1}, 30s);
    REQUIRE(r.ok());
    CHECK(r->inner_error == "loop.would_deadlock");
  }
  SECTION("two instances, the other one blocked the same way") {
    where_self = spawn_where(rt, "pair", 2, true);
    auto r = where_self.call(where_request{{}, {}, {}, {}, 2}, 30s);
    REQUIRE(r.ok());
    CHECK(r->inner_error == "loop.would_deadlock"); // the second level was refused
  }
  SECTION("two instances, one free: the call goes through") {
    where_self = spawn_where(rt, "free", 2, true);
    auto r = where_self.call(where_request{{}, {}, {}, {}, 1}, 30s);
    REQUIRE(r.ok());
    CHECK(r->inner_error.empty());
  }
  where_self = {};
}

namespace {

/// A kind that serves its requests on a thread of its own, the way the fetcher's I/O loop does:
/// it sleeps on a condition variable that the runtime's wake-up signals.
struct own_reply {
  std::string thread;
};
struct own_request {
  using reply_type = own_reply;
  bool hold = false; ///< keep the responder until the request is cancelled
};
class own_worker;
struct own_kind {
  static constexpr const char* name = "own";
  using requests = request_list<own_request>;
  using worker = own_worker;
  static loopbridge::execution execution(const loopbridge::params&) {
    return execution::own_thread;
  }
};
class own_worker : public worker {
public:
  explicit own_worker(worker_context& ctx) : state_(std::make_shared<state>()) {
    state_->intake = ctx.serve_on_own_thread([s = std::weak_ptr<state>(state_)] {
      if (auto st = s.lock()) {
        std::lock_guard<std::mutex> lock{st->mutex};
        st->rung = true;
        st->cv.notify_one();
      }
    });
    ctx.start_thread("lb.own." + ctx.actor_name(), [s = state_] {
      std::unique_lock<std::mutex> lock{s->mutex};
      while (!s->stopping) {
        s->rung = false;
        lock.unlock();
        bool more = s->intake->serve(64);
        lock.lock();
        if (!more)
          s->cv.wait(lock, [&] { return s->rung || s->stopping; });
      }
    });
  }
  ~own_worker() override {
    std::lock_guard<std::mutex> lock{state_->mutex};
    state_->stopping = true;
    state_->cv.notify_one();
  }
  void handle(own_request& req, responder<own_reply>& r) {
    if (req.hold) {
      held_.emplace(r.id(), std::move(r));
      return;
    }
    r.reply(own_reply{thread_name()});
  }
  void on_cancel(std::uint64_t id) override {
    auto it = held_.find(id);
    if (it == held_.end())
      return;
    it->second.fail(error{errc::cancelled, "cancelled on " + thread_name()});
    held_.erase(it);
  }

private:
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    bool rung = false;
    bool stopping = false;
    std::shared_ptr<request_intake> intake;
  };
  std::shared_ptr<state> state_;
  std::map<std::uint64_t, responder<own_reply>> held_; ///< touched on the own thread only
};

} // namespace

TEST_CASE("a kind that owns a thread gets its requests and cancels on that thread",
          "[scheduler][own_thread]") {
  auto k = kinds();
  k.add<own_kind>();
  runtime rt{std::move(k), lbtest::quick_options()};
  REQUIRE(rt.spawn("io", "own", value::map{}).ok());
  auto io = rt.actor<own_kind>("io").value();
  for (int i = 0; i < 100; ++i) {
    auto r = io.call(own_request{}, 10s);
    REQUIRE(r.ok());
    CHECK(r->thread == "lb.own.io");
  }
  auto held = io.submit(own_request{true}, 30s);
  REQUIRE(io.call(own_request{}, 10s).ok()); // the held one has reached the worker
  held.cancel();
  auto r = held.get();
  REQUIRE(r.is(errc::cancelled));
  // Counted once its worker let go of it, on its own thread.
  CHECK(lbtest::eventually([&] { return rt.metrics("io")->cancelled == 1; }));
}
