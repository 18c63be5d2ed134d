// Spawning and looking up actors: typed handles, wrong kinds, unknown names, bad params.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

struct other_reply {
  int x = 0;
};
struct other_request {
  using reply_type = other_reply;
  int x = 0;
};
class other_worker;
/// A second kind, to look an echo actor up with the wrong kind.
struct other_kind {
  static constexpr const char* name = "other";
  using requests = request_list<other_request>;
  using worker = other_worker;
};
class other_worker : public worker {
public:
  explicit other_worker(worker_context&) {}
  void handle(other_request& r, responder<other_reply>& out) { out.reply(other_reply{r.x + 1}); }
};

kind_registry kinds() {
  auto k = builtin_kinds();
  k.add<other_kind>();
  return k;
}

} // namespace

TEST_CASE("a typed handle is checked against the actor's kind at lookup", "[lookup]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("echo", "echo").ok());
  REQUIRE(rt.spawn("other", "other").ok());
  auto wrong = rt.actor<other_kind>("echo");
  REQUIRE(wrong.is(errc::wrong_kind));
  CHECK(wrong.error().message() == "actor 'echo' is of kind 'echo', not 'other'");
  auto right = rt.actor<other_kind>("other");
  REQUIRE(right.ok());
  CHECK(right->call(other_request{41}, 5s)->x == 42);
  CHECK_THROWS_AS(rt.actor<other_kind>("echo").value(), error_exception);
}

TEST_CASE("unknown names and kinds get a did-you-mean", "[lookup]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("greeter", "echo").ok());
  auto missing = rt.actor<echo>("greter");
  REQUIRE(missing.is(errc::not_found));
  CHECK(missing.error().message() == "no actor named 'greter' (did you mean 'greeter'?)");
  auto bad_kind = rt.spawn("x", "ecoh");
  REQUIRE(bad_kind.is(errc::not_found));
  CHECK(bad_kind.error().message() == "unknown kind 'ecoh' (did you mean 'echo'?)");
}

TEST_CASE("spawn validates names, counts and params before starting anything", "[lookup]") {
  runtime rt{kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("echo", "echo").ok());
  CHECK(rt.spawn("echo", "echo").error().message() == "an actor named 'echo' already exists");
  CHECK(rt.spawn("", "echo").is(errc::bad_request));
  actor_spec zero;
  zero.name = "zero";
  zero.kind = "echo";
  zero.count = 0;
  REQUIRE(rt.spawn(zero).ok()); // 0: the kind's default, one echo
  CHECK(rt.actor<echo>("zero").ok());
  auto typo = rt.spawn("e2", "echo", {{"dealy", "5ms"}});
  REQUIRE(typo.is(errc::bad_request));
  CHECK(typo.error().message() ==
        "actor 'e2': params.dealy: unknown parameter (did you mean 'delay'?)");
  auto bad = rt.spawn("e3", "echo", {{"delay", "5x"}, {"fail_every", -1}});
  REQUIRE(bad.is(errc::bad_request));
  CHECK(bad.error().message().find("params.delay: expected a duration") != std::string::npos);
  CHECK(bad.error().message().find("params.fail_every: value -1 is out of range") !=
        std::string::npos);
  // Nothing of the failed spawns exists.
  CHECK(rt.actor<echo>("e2").is(errc::not_found));
  CHECK(rt.actor<echo>("e3").is(errc::not_found));
}

namespace {
struct failing_worker;
/// A kind whose worker cannot start.
struct failing_kind {
  static constexpr const char* name = "failing";
  using requests = request_list<other_request>;
  using worker = failing_worker;
};
struct failing_worker : loopbridge::worker {
  explicit failing_worker(worker_context&) { throw std::runtime_error("no resource"); }
  void handle(other_request&, responder<other_reply>&) {}
};
} // namespace

TEST_CASE("a kind's worker that fails to start fails the requests sent to it", "[lookup]") {
  auto k = builtin_kinds();
  k.add<failing_kind>();
  runtime rt{k, lbtest::quick_options()};
  REQUIRE(rt.spawn("f", "failing").ok());
  auto h = rt.actor<failing_kind>("f").value();
  auto r = h.call(other_request{1}, 5s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.is(errc::start_failed));
  CHECK(r.error().message().find("no resource") != std::string::npos);
}

TEST_CASE("a request sent right after spawn reaches the new actor while the loop is busy",
          "[lookup][load]") {
  // Requests travel through the loop's inbox and the spawn through its mailbox; a request may
  // arrive first. Keep the loop draining a stream of traffic so it often does.
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto busy = lbtest::spawn_echo(rt, "busy");
  std::atomic<bool> done{false};
  std::thread traffic{[&] {
    while (!done.load()) {
      std::vector<future<echo_reply>> fs;
      for (int i = 0; i < 256; ++i)
        fs.push_back(busy.submit(echo_request{i}));
      for (auto& f : fs)
        (void)f.get();
    }
  }};
  int failures = 0;
  std::string first_failure;
  for (int i = 0; i < 300; ++i) {
    auto name = "fresh" + std::to_string(i);
    REQUIRE(rt.spawn(name, "echo").ok());
    auto h = rt.actor<echo>(name).value();
    auto a = h.submit(echo_request{i});
    auto b = h.submit(echo_request{i + 1});
    b.cancel(); // cancelled before the loop may know the actor
    REQUIRE(a.wait_for(10s));
    auto r = a.get();
    if (!r || r->payload.as_integer() != i) {
      if (failures++ == 0)
        first_failure = r ? "wrong payload" : r.error().to_string();
    }
  }
  done = true;
  traffic.join();
  INFO(first_failure);
  CHECK(failures == 0);
}
