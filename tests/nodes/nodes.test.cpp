// Actors placed on another node: a real `loopbridge node` process on loopback serving the
// test's runtime. Replies equal local ones; a node killed, frozen or refused fails exactly
// what it held with a typed error and comes back; a process that does not know the secret
// gets nothing from a gateway.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <caf/io/middleman.hpp>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/detail/wire_form.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/tools/value_requests.hpp"
#include "nodes/asker.hpp"
#include "nodes/node_protocol.hpp"
#include "support/child_process.hpp"
#include "support/paths.hpp"
#include "support/stall_proxy.hpp"
#include "support/test_support.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using lbtest::child_process;

namespace {

const std::string cli = lbtest::cli_program();
const std::string secret = "a-test-secret-of-thirty-two-char";

/// Sets an environment variable for the scope (child processes inherit it).
class env_scope {
public:
  env_scope(const char* name, const std::string& v) : name_(name) {
    if (const char* old = std::getenv(name))
      old_ = old;
    ::setenv(name, v.c_str(), 1);
  }
  ~env_scope() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

private:
  const char* name_;
  std::optional<std::string> old_;
};

/// A topology file with node `side` on a free loopback port: `far` (echo, `far_params`) placed
/// on it, `near` (echo) in the main process.
struct two_nodes {
  explicit two_nodes(const std::string& far_params = "{}", const std::string& far_kind = "echo")
      : dir(scratch.path()),
        far_params(far_params),
        far_kind(far_kind) {
    port = lbtest::closed_port();
    file = dir + "/nodes.yaml";
    write();
  }
  /// (Re)writes the file: the main process's `runtime.tls` and the node's `tls` (YAML maps,
  /// or empty for none). A node already running keeps what it read.
  void write(const std::string& main_tls = "", const std::string& node_tls = "") const {
    write_to(file, port, main_tls, node_tls);
    if (main_port != 0)
      write_to(main_file(), main_port, main_tls, node_tls);
  }
  void write_to(const std::string& path, std::uint16_t at, const std::string& main_tls,
                const std::string& node_tls) const {
    auto far_name = path == file ? node_far_name : "far";
    std::ofstream{path} << "runtime: {shutdown_budget: 3s"
                        << (main_tls.empty() ? "" : ", tls: " + main_tls) << "}\n"
                        << "nodes:\n  - name: side\n    address: 127.0.0.1:" << at << "\n"
                        << (node_tls.empty() ? "" : "    tls: " + node_tls + "\n")
                        << "actors:\n  - name: " << far_name << "\n    kind: " << far_kind
                        << "\n    node: side\n    params: " << far_params << far_extra
                        << "\n  - name: near\n    kind: echo\n";
  }
  /// The main process connects to `at` (a proxy in front of the node) from now on; the node
  /// keeps listening on `port`.
  void connect_through(std::uint16_t at) {
    main_port = at;
    write();
  }
  std::string main_file() const { return dir + "/main.yaml"; }
  topology load() const {
    auto r = config::load(main_port != 0 ? main_file() : file, actors::builtin_kinds());
    REQUIRE(r.report() == "");
    return *r.topology;
  }
  /// Starts `loopbridge node` for `side` and waits until it serves.
  std::unique_ptr<child_process> start_node() const {
    // A node started before wrote to the same files: its "serving" line must not count.
    std::remove((dir + "/.child.out").c_str());
    std::remove((dir + "/.child.err").c_str());
    auto c = std::make_unique<child_process>(
        cli, std::vector<std::string>{"node", "--node", "side", file}, dir);
    auto serving_line = "node side serving " + node_far_name + " on";
    bool serving =
        lbtest::eventually([&] { return c->out().find(serving_line) != std::string::npos; }, 30s);
    INFO("node stdout: " << c->out() << "\nnode stderr: " << c->err());
    REQUIRE(serving);
    return c;
  }
  lbtest::temp_dir scratch{"loopbridge-nodes"}; ///< first: removed after the node process
  std::string dir;
  std::string far_params;
  std::string far_kind;
  std::string far_extra; ///< more of `far`'s keys, each on a line of its own ("\n    key: v")
  std::string file;
  std::uint16_t port = 0;
  std::uint16_t main_port = 0; ///< where the main process connects, if not `port`
  /// The name `far` has in the node's own file (with `connect_through`, the main keeps "far").
  std::string node_far_name = "far";
};

/// A TLS identity from tests/nodes/tls (made by its make-certs) as a YAML map: `who`.pem and
/// `who`.key, trusting the CA `ca`.pem.
std::string tls_of(const std::string& who, const std::string& ca) {
  auto at = lbtest::source_dir() + "/tests/nodes/tls/";
  return "{certificate: " + at + who + ".pem, key: " + at + who + ".key, cafile: " + at + ca +
         ".pem}";
}

/// The error `runtime(kinds, t.load())` throws, in words ("" if it started).
std::string start_error(const two_nodes& t) {
  try {
    runtime rt{actors::builtin_kinds(), t.load()};
    return "";
  } catch (const error_exception& e) {
    return e.error().to_string();
  }
}

actors::echo_request echo_of(std::string text) {
  actors::echo_request r;
  r.payload = value{std::move(text)};
  return r;
}

/// A request the node holds for two seconds (a timer) before it answers: long enough that a kill
/// right after the main sees it in flight lands while the node still holds it, however loaded
/// the machine is.
actors::echo_request held_echo_of(std::string text) {
  auto r = echo_of(std::move(text));
  r.delay = 2s;
  return r;
}

/// A raw CAF process of the same build speaking the gateway protocol by hand, connected to the
/// gateway on `port`: what a peer that skips, breaks or abandons the protocol looks like.
struct raw_peer {
  explicit raw_peer(std::uint16_t port) : sys{configured(cfg)}, self{sys} {
    auto g = sys.middleman().remote_actor("127.0.0.1", port);
    REQUIRE(g);
    gateway = *g;
  }
  static caf::actor_system_config& configured(caf::actor_system_config& c) {
    c.load<caf::io::middleman>();
    detail::add_node_message_types(c);
    c.set("middleman.app-identifiers",
          std::vector<std::string>{detail::node_app_id(actors::builtin_kinds())});
    return c;
  }
  /// Says hello with `link_nonce`; the gateway's nonce from its challenge.
  std::string hello(const std::string& link_nonce) {
    self->send(gateway, detail::node_hello_atom::value,
               detail::node_app_id(actors::builtin_kinds()), link_nonce);
    std::string challenge;
    self->receive([&](detail::node_challenge_atom, const std::string& nonce, const std::string&,
                      const std::string&) { challenge = nonce; },
                  caf::after(10s) >> [] {});
    REQUIRE_FALSE(challenge.empty());
    return challenge;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::actor gateway;
};

/// Submits through `far` until one request succeeds (the node is back), within `timeout`.
bool answers_again(const actor_handle<actors::echo>& far, std::chrono::seconds timeout) {
  return lbtest::eventually(
      [&] {
        auto r = far.submit(echo_of("again?"), 500ms);
        r.wait_for(2s);
        return r.ready() && r.get().ok();
      },
      timeout);
}

} // namespace

TEST_CASE("an actor on another node answers as a local one does", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = rt.actor<actors::echo>("far");
  REQUIRE(far.ok());

  // Many at once: they travel several to a message and come back in any order.
  std::vector<future<actors::echo_reply>> replies;
  {
    context_scope ctx{context{}.with("trace", value{"t-17"})};
    for (int i = 0; i < 3000; ++i)
      replies.push_back(far->submit(echo_of("payload " + std::to_string(i))));
  }
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(replies[i].wait_for(30s));
    auto r = replies[i].get();
    REQUIRE(r.ok());
    CHECK(r->payload == value{"payload " + std::to_string(i)});
    CHECK(r->context.at("trace") == value{"t-17"}); // the context crossed with the request
  }
  // A failure there arrives as the same typed error here.
  auto failing = echo_of("no");
  failing.fail = true;
  auto failed = far->call(failing, 10s);
  REQUIRE_FALSE(failed.ok());
  INFO(failed.error().to_string());
  CHECK(failed.error().is(actors::echo_errc::failed));
  // The deadline travels: a reply later than it is a timeout.
  auto slow = echo_of("slow");
  slow.delay = 5s;
  auto late = far->call(slow, 200ms);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().is(errc::timeout));
  // By name and fields, as scenarios and the CLI submit.
  auto by_value =
      tools::submit_value(rt, "far", "echo", value::map{{"payload", value{"fields"}}}, 10s);
  REQUIRE(by_value.wait_for(30s));
  CHECK(by_value.get().ok());

  // The loop counts an outcome right after the future has it.
  CHECK(lbtest::eventually([&] {
    auto m = rt.metrics("far");
    return m->completed == 3001 && m->failed == 2;
  }));
  // So does the node's traffic: every request went there and came back, but perhaps the late
  // one (its deadline ends it on both sides: whichever side is first decides).
  CHECK(lbtest::eventually([&] { return rt.nodes().at(0).in_flight == 0; }));
  auto nodes = rt.nodes();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].name == "side");
  CHECK(nodes[0].address == "127.0.0.1:" + std::to_string(t.port));
  CHECK(nodes[0].up);
  CHECK(nodes[0].connects == 1);
  CHECK(nodes[0].losses == 0);
  CHECK(nodes[0].sent == 3003);
  CHECK(nodes[0].answered >= 3002);
  CHECK(nodes[0].answered <= 3003);
  CHECK(nodes[0].lost == 0);
  CHECK(nodes[0].bytes_sent > 3000 * 10);
  CHECK(nodes[0].bytes_received > 3000 * 10);
  auto& report = rt.stop();
  CHECK_FALSE(report.loop_stuck);
  node->signal(SIGTERM);
  REQUIRE(node->wait(20s) == 0);
  CHECK(node->out().find("node side stopping") != std::string::npos);
}

TEST_CASE("a node killed under load fails what it held with node.lost and comes back", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  subscription nodes_only;
  nodes_only.types = {event_type::node_up, event_type::node_down};
  auto inbox = rt.subscribe(nodes_only); // after the start: its node_up came before

  constexpr int n = 400;
  std::vector<future<actors::echo_reply>> replies;
  for (int i = 0; i < n; ++i)
    replies.push_back(far.submit(held_echo_of(std::to_string(i)), 20s));
  // Some are on the node now (each waits 2 s there).
  REQUIRE(lbtest::eventually([&] { return rt.metrics("far")->in_flight > 0; }, 10s));
  node->signal(SIGKILL);
  REQUIRE(node->wait(10s));

  int completed = 0, lost = 0, other = 0;
  for (auto& f : replies) {
    REQUIRE(f.wait_for(30s)); // every future resolves...
    auto r = f.get();
    if (r.ok())
      ++completed;
    else if (r.error().is(errc::node_lost))
      ++lost;
    else
      ++other;
  }
  INFO("completed " << completed << ", lost " << lost << ", other " << other);
  CHECK(completed + lost + other == n); // ... exactly once
  CHECK(lost > 0);
  CHECK(lbtest::eventually(
      [&] { return rt.metrics("far")->completed == static_cast<std::uint64_t>(completed); }));

  // The loss is an event once, however often the address refuses the next attempts.
  auto down = inbox.next(30s);
  REQUIRE(down.ok());
  REQUIRE(std::holds_alternative<node_down_event>(*down));
  CHECK(std::get<node_down_event>(*down).node == "side");
  CHECK(std::get<node_down_event>(*down).reason.is(errc::node_lost));
  // While it is gone, a request waits for it until its deadline, and says why it never ran.
  auto waited = far.call(echo_of("waits"), 300ms);
  REQUIRE_FALSE(waited.ok());
  INFO(waited.error().to_string());
  CHECK(waited.error().is(errc::node_unreachable));

  // A new process on the same address: the runtime reconnects, proves the secret again and
  // serves through it.
  auto again = t.start_node();
  CHECK(answers_again(far, 30s));
  auto up = inbox.next(30s);
  REQUIRE(up.ok());
  INFO(to_string(*up));
  CHECK(std::holds_alternative<node_up_event>(*up));
  CHECK(to_string(*up) == "node_up side (127.0.0.1:" + std::to_string(t.port) + ")");
  // The node's metrics tell the same story: up twice, lost once, with what it held.
  auto nodes = rt.nodes();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].up);
  CHECK(nodes[0].connects == 2);
  CHECK(nodes[0].losses == 1);
  CHECK(nodes[0].lost == static_cast<std::uint64_t>(lost));
  CHECK_FALSE(nodes[0].failure);
  auto& report = rt.stop();
  CHECK_FALSE(report.loop_stuck);
}

TEST_CASE("an actor that resends: what a lost node held goes again when it is back", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  t.far_extra = "\n    resend_lost: true";
  t.write();
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  constexpr int n = 300;
  std::vector<future<actors::echo_reply>> replies;
  for (int i = 0; i < n; ++i)
    replies.push_back(far.submit(held_echo_of(std::to_string(i)), 60s));
  REQUIRE(lbtest::eventually([&] { return rt.nodes().at(0).in_flight > 0; }, 10s));
  node->signal(SIGKILL);
  REQUIRE(node->wait(10s));
  REQUIRE(lbtest::eventually([&] { return rt.nodes().at(0).losses == 1; }, 30s));
  auto again = t.start_node();
  // Every request is answered, in full, by one process or the other: none failed with it.
  for (int i = 0; i < n; ++i) {
    REQUIRE(replies[i].wait_for(60s));
    auto r = replies[i].get();
    INFO(i << ": " << (r.ok() ? std::string{"ok"} : r.error().to_string()));
    REQUIRE(r.ok());
    CHECK(r->payload == value{std::to_string(i)});
  }
  auto nodes = rt.nodes();
  CHECK(nodes[0].connects == 2);
  CHECK(nodes[0].lost > 0);
  CHECK(nodes[0].resent == nodes[0].lost); // every one lost went again (none had expired)
  CHECK(nodes[0].in_flight == 0);
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a frozen node is detected by its silence and rejoins when it thaws", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  REQUIRE(far.call(echo_of("warm"), 10s).ok());

  node->signal(SIGSTOP);
  auto slow = echo_of("held");
  slow.delay = 100ms;
  auto held = far.submit(slow, 60s); // reaches the node's socket, never its actors
  REQUIRE(held.wait_for(30s));       // the heartbeats' silence, not the 60 s deadline
  auto outcome = held.get();
  REQUIRE_FALSE(outcome.ok());
  INFO(outcome.error().to_string());
  CHECK(outcome.error().is(errc::node_lost));

  node->signal(SIGCONT);
  CHECK(answers_again(far, 30s));
  rt.stop();
}

TEST_CASE("a network cut is found by its silence on both sides, and the node rejoins when it "
          "heals",
          "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  lbtest::stall_proxy cut{t.port}; // the network between the two processes
  t.connect_through(cut.port());
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  REQUIRE(far.call(echo_of("warm"), 10s).ok());

  cut.stall(); // both connections stay open; no byte moves
  auto held = far.submit(echo_of("held"), 60s);
  REQUIRE(held.wait_for(30s)); // the pings' silence, not the 60 s deadline
  auto outcome = held.get();
  REQUIRE_FALSE(outcome.ok());
  INFO(outcome.error().to_string());
  CHECK(outcome.error().is(errc::node_lost));
  CHECK(outcome.error().message().find("answered nothing") != std::string::npos);
  // The node's gateway heard nothing from this process for as long, and forgot it.
  CHECK(lbtest::eventually(
      [&] { return node->err().find("sent nothing for") != std::string::npos; }, 30s));

  cut.resume();
  CHECK(answers_again(far, 30s));
  auto nodes = rt.nodes();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].up);
  CHECK(nodes[0].losses >= 1);
  CHECK(nodes[0].connects >= 2);
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a cut node holds up nothing bound for a healthy one", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  lbtest::temp_dir scratch{"loopbridge-nodes"};
  auto side_port = lbtest::closed_port();
  auto other_port = lbtest::closed_port();
  lbtest::stall_proxy cut{side_port}; // between this process and node side only
  auto topology_at = [&](const std::string& path, std::uint16_t side_at) {
    std::ofstream{path} << "runtime: {shutdown_budget: 3s}\n"
                        << "nodes:\n"
                        << "  - {name: side, address: 127.0.0.1:" << side_at << "}\n"
                        << "  - {name: other, address: 127.0.0.1:" << other_port << "}\n"
                        << "actors:\n"
                        << "  - {name: far, kind: echo, node: side}\n"
                        << "  - {name: healthy, kind: echo, node: other}\n";
    return path;
  };
  auto nodes_file = topology_at(scratch.path() + "/nodes.yaml", side_port);
  auto main_file = topology_at(scratch.path() + "/main.yaml", cut.port());
  auto start = [&](const std::string& name) {
    auto dir = scratch.path() + "/" + name; // its own output files
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    auto c = std::make_unique<child_process>(
        cli, std::vector<std::string>{"node", "--node", name, nodes_file}, dir);
    REQUIRE(lbtest::eventually(
        [&] { return c->out().find("node " + name + " serving") != std::string::npos; }, 30s));
    return c;
  };
  auto side = start("side");
  auto other = start("other");
  auto loaded = config::load(main_file, actors::builtin_kinds());
  REQUIRE(loaded.report() == "");
  runtime rt{actors::builtin_kinds(), *loaded.topology};
  auto far = *rt.actor<actors::echo>("far");
  auto healthy = *rt.actor<actors::echo>("healthy");
  REQUIRE(far.call(echo_of("warm"), 10s).ok());

  cut.stall();
  auto held = far.submit(echo_of("held"), 60s);
  // While the cut is not yet found, and after: the healthy node answers as before.
  for (int i = 0; !held.ready(); ++i) {
    auto r = healthy.call(echo_of("still here " + std::to_string(i)), 5s);
    REQUIRE(r.ok());
    REQUIRE(r->payload == value{"still here " + std::to_string(i)});
  }
  auto outcome = held.get();
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().is(errc::node_lost));
  auto nodes = rt.nodes();
  REQUIRE(nodes.size() == 2);
  for (auto& n : nodes) {
    INFO(n.name);
    CHECK(n.up == (n.name == "other"));
  }
  cut.resume();
  CHECK(answers_again(far, 30s));
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a connection whose handshake takes longer than a ping interval still comes up",
          "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  lbtest::stall_proxy slow{t.port};
  slow.delay_first_reply(1500ms); // the node's handshake reaches this process 1.5 s late
  t.connect_through(slow.port());
  runtime rt{actors::builtin_kinds(), t.load()}; // throws if the node never came up
  auto far = *rt.actor<actors::echo>("far");
  auto r = far.call(echo_of("late but there"), 10s);
  REQUIRE(r.ok());
  CHECK(r->payload.as_string() == "late but there");
  CHECK(rt.nodes()[0].connects == 1);
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a gateway forgets a main process that went silent and cancels what it left", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  // A raw CAF process of the same build that proves the secret, sends a long call and then
  // never pings: a main process frozen, or cut off, as the node sees it.
  raw_peer peer{t.port};
  auto& self = peer.self;
  auto* gateway = &peer.gateway;
  auto link_nonce = detail::node_nonce();
  auto challenge = peer.hello(link_nonce);
  self->send(*gateway, detail::node_prove_atom::value,
             detail::node_proof(secret, "link", challenge, link_nonce));
  bool welcomed = false;
  self->receive([&](detail::node_welcome_atom, const std::vector<char>&) { welcomed = true; },
                caf::after(10s) >> [] {});
  REQUIRE(welcomed);

  detail::node_call c;
  c.id = 7;
  c.actor = "far";
  c.request = "echo";
  auto req = echo_of("left behind");
  req.delay = 60s;
  std::vector<char> body;
  REQUIRE(detail::wire_encode(req, body).ok());
  c.body = detail::wire_body{std::move(body)};
  self->send(*gateway, detail::node_calls_atom::value, std::vector<detail::node_call>{c});
  std::optional<detail::node_answer> answer;
  self->receive(
      [&](detail::node_answers_atom, const std::vector<detail::node_answer>& a) {
        if (!a.empty())
          answer = a.front();
      },
      caf::after(30s) >> [] {}); // the silence (3 s), not the call's 60 s
  REQUIRE(answer);
  CHECK(answer->id == 7);
  REQUIRE(answer->failed);
  INFO(answer->failure().to_string());
  CHECK(answer->failure().is(errc::cancelled));
  CHECK(lbtest::eventually(
      [&] { return node->err().find("sent nothing for") != std::string::npos; }, 10s));

  // Forgotten: a ping now is refused, and the process must prove itself again.
  self->send(*gateway, detail::node_ping_atom::value, std::uint64_t{1});
  bool refused = false;
  self->receive([&](detail::node_refused_atom, const std::string&) { refused = true; },
                caf::after(10s) >> [] {});
  CHECK(refused);
}

TEST_CASE("a node that comes back without the actor fails its requests at once, saying what "
          "it runs",
          "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  t.connect_through(t.port); // the main process keeps a file of its own
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  REQUIRE(far.call(echo_of("warm"), 10s).ok());

  node->signal(SIGKILL);
  node->wait(10s);
  t.node_far_name = "other"; // the node starts again with another topology
  t.write();
  auto again = t.start_node();
  REQUIRE(lbtest::eventually(
      [&] {
        auto n = rt.nodes();
        return n.size() == 1 && n[0].up && n[0].connects == 2;
      },
      30s));
  auto r = far.call(echo_of("anyone?"), 10s); // at once, not at its deadline
  REQUIRE_FALSE(r.ok());
  INFO(r.error().to_string());
  CHECK(r.error().is(errc::node_refused));
  CHECK(r.error().message().find("runs no actor far (it runs other)") != std::string::npos);
  CHECK(rt.actor<actors::echo>("near")->call(echo_of("here"), 10s).ok());
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a user kind asks actors on a node from its handler, there and here, and a lost node "
          "fails what it waits for",
          "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  lbtest::temp_dir scratch{"loopbridge-nodes"};
  auto port = lbtest::closed_port();
  auto file = scratch.path() + "/askers.yaml";
  std::ofstream{file} << "runtime: {shutdown_budget: 3s}\n"
                      << "nodes:\n  - name: side\n    address: 127.0.0.1:" << port << "\n"
                      << "actors:\n"
                      << "  - {name: far, kind: echo, node: side}\n"
                      << "  - {name: far_asker, kind: asker, node: side}\n"
                      << "  - {name: near, kind: echo}\n"
                      << "  - {name: asker, kind: asker}\n";
  // The node is a user's own command: the built-in kinds and `asker`.
  child_process node{lbtest::test_node_program(), {"node", "--node", "side", file}, scratch.path()};
  REQUIRE(lbtest::eventually(
      [&] { return node.out().find("node side serving") != std::string::npos; }, 30s));
  auto kinds = lbtest::node_test_kinds();
  auto loaded = config::load(file, kinds);
  REQUIRE(loaded.report() == "");
  runtime rt{kinds, *loaded.topology};

  // A handler here asks an actor on the node and one here, at once.
  auto here = *rt.actor<lbtest::asker>("asker");
  lbtest::ask_request both;
  both.targets = {"far", "near"};
  both.text = "hi";
  auto r = here.call(both, 10s);
  REQUIRE(r.ok());
  CHECK(r->answers == std::vector<std::string>{"far: hi", "near: hi"});

  // A handler on the node asks its neighbour there.
  auto there = *rt.actor<lbtest::asker>("far_asker");
  lbtest::ask_request neighbour;
  neighbour.targets = {"far"};
  neighbour.text = "next door";
  auto r2 = there.call(neighbour, 10s);
  REQUIRE(r2.ok());
  CHECK(r2->answers == std::vector<std::string>{"far: next door"});

  // The node dies while a handler here waits for its actor: the handler's fan-in gets
  // node.lost, naming the actor, and fails its own request with it.
  lbtest::ask_request slow;
  slow.targets = {"near", "far"};
  slow.text = "wait";
  slow.delay = 30s;
  auto waiting = here.submit(slow, 60s);
  REQUIRE(lbtest::eventually([&] { return rt.nodes()[0].in_flight == 1; }, 10s));
  node.signal(SIGKILL);
  REQUIRE(waiting.wait_for(30s));
  auto out = waiting.get();
  REQUIRE_FALSE(out.ok());
  INFO(out.error().to_string());
  CHECK(out.error().is(errc::node_lost));
  CHECK(out.error().message().find("far") != std::string::npos);
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("a node refuses a process with another secret, and the start says why", "[nodes]") {
  two_nodes t;
  std::unique_ptr<child_process> node;
  {
    env_scope s{"LOOPBRIDGE_NODE_SECRET", "the-node-has-this-other-secret!!"};
    node = t.start_node();
  }
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  try {
    runtime rt{actors::builtin_kinds(), t.load()};
    FAIL("the runtime started with a node that should refuse it");
  } catch (const error_exception& e) {
    INFO(e.what());
    CHECK(e.error().is(errc::start_failed));
    // The node proves itself first: this process finds the proof wrong and goes no further.
    CHECK(e.error().message().find("did not prove it knows the secret") != std::string::npos);
  }
}

TEST_CASE("a node nobody serves fails the start with node.unreachable", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t; // no `loopbridge node`: the port refuses connections
  try {
    runtime rt{actors::builtin_kinds(), t.load()};
    FAIL("the runtime started without its node");
  } catch (const error_exception& e) {
    INFO(e.what());
    CHECK(e.error().is(errc::start_failed));
    CHECK(e.error().message().find("node.unreachable") != std::string::npos);
  }
}

TEST_CASE("a process of another build is refused at the handshake", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  // One more kind than the node knows: another build as far as the nodes are concerned.
  auto kinds = actors::builtin_kinds();
  auto twin = describe_kind<actors::echo>();
  twin.name = "echo_twin";
  kinds.add(std::move(twin));
  try {
    runtime rt{kinds, t.load()};
    FAIL("the runtime started with a node of another build");
  } catch (const error_exception& e) {
    INFO(e.what());
    CHECK(e.error().message().find("node.refused") != std::string::npos);
  }
}

TEST_CASE("placements that cannot work are refused before anything starts", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  SECTION("a kind whose requests cannot leave the process") {
    two_nodes t;
    auto topo = t.load(); // the loader would refuse this file: the runtime checks it again
    topo.actors[0].kind = "blocking";
    topo.actors[0].params = value{};
    try {
      runtime rt{actors::builtin_kinds(), topo};
      FAIL("started");
    } catch (const error_exception& e) {
      CHECK(e.error().is(errc::bad_request));
      CHECK(e.error().message().find("cannot leave this process") != std::string::npos);
    }
  }
  SECTION("a node nobody declared, or a runtime without the network") {
    runtime_options o;
    o.network = true;
    runtime rt{actors::builtin_kinds(), o};
    actor_spec spec;
    spec.name = "x";
    spec.kind = "echo";
    spec.node = "nowhere";
    auto r = rt.spawn(spec);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("not declared") != std::string::npos);
    runtime plain{actors::builtin_kinds()};
    auto p = plain.spawn(spec);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message().find("without nodes") != std::string::npos);
  }
  SECTION("resending what a lost node held, for an actor in this process") {
    runtime rt{actors::builtin_kinds()};
    actor_spec spec;
    spec.name = "here";
    spec.kind = "echo";
    spec.resend_lost = true;
    auto r = rt.spawn(spec);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(errc::bad_request));
    CHECK(r.error().message().find("only an actor placed on a node") != std::string::npos);
    auto loaded = config::parse("actors:\n  - {name: here, kind: echo, resend_lost: true}\n",
                                actors::builtin_kinds(), "resend.yaml");
    REQUIRE(loaded.problems.size() == 1);
    CHECK(loaded.problems[0].path == "actors[0].resend_lost");
    CHECK(loaded.problems[0].message == "resend_lost applies only to an actor placed on a node");
  }
  SECTION("a secret that is missing or short") {
    two_nodes t;
    env_scope short_secret{"LOOPBRIDGE_NODE_SECRET", "short"};
    try {
      runtime rt{actors::builtin_kinds(), t.load()};
      FAIL("started");
    } catch (const error_exception& e) {
      CHECK(e.error().message().find("shorter than 16") != std::string::npos);
    }
  }
}

TEST_CASE("a gateway serves nothing to a process that has not proved the secret", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  // A raw CAF process of the same build that skips or fails the challenge.
  raw_peer peer{t.port};
  auto& self = peer.self;
  auto* gateway = &peer.gateway;
  auto expect_refused = [&](const char* what) {
    bool refused = false;
    self->receive([&](detail::node_refused_atom, const std::string&) { refused = true; },
                  caf::after(10s) >> [] {});
    INFO(what);
    CHECK(refused);
  };

  detail::node_call c;
  c.id = 1;
  c.actor = "far";
  c.request = "echo";
  auto req = echo_of("sneak");
  std::vector<char> body;
  REQUIRE(detail::wire_encode(req, body).ok());
  c.body = detail::wire_body{std::move(body)};
  std::vector<detail::node_call> calls{c};
  self->send(*gateway, detail::node_calls_atom::value, calls);
  expect_refused("calls without a hello");

  auto challenge = peer.hello(detail::node_nonce());
  self->send(*gateway, detail::node_prove_atom::value,
             detail::node_proof("not-the-secret-but-long-enough!!", "link", challenge, "x"));
  expect_refused("a wrong proof");
  self->send(*gateway, detail::node_calls_atom::value, calls);
  expect_refused("calls after a wrong proof");
  CHECK(lbtest::eventually([&] { return node->err().find("wrong secret") != std::string::npos; },
                           10s));
}

TEST_CASE("a runtime whose node died stops within its budget and resolves what waited", "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t; // shutdown_budget: 3s
  auto node = t.start_node();
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  REQUIRE(far.call(echo_of("warm"), 10s).ok());
  node->signal(SIGKILL);
  REQUIRE(node->wait(10s));
  // Submitted while the node is gone: they wait for it in the actor's queue.
  std::vector<future<actors::echo_reply>> waiting;
  for (int i = 0; i < 50; ++i)
    waiting.push_back(far.submit(echo_of("waits"), 60s));
  auto& report = rt.stop();
  INFO(report.to_string());
  CHECK_FALSE(report.loop_stuck);
  CHECK(report.stuck.empty());
  CHECK(report.took < 3s + 1s); // the budget, plus the teardown's margin
  for (auto& f : waiting) {
    REQUIRE(f.ready());
    auto r = f.get();
    REQUIRE_FALSE(r.ok());
    CHECK((r.error().is(errc::stopped) || r.error().is(errc::node_lost)));
  }
}

TEST_CASE("a node frozen before the start fails it within the connect deadline, holding no "
          "thread",
          "[nodes]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto node = t.start_node();
  node->signal(SIGSTOP); // the kernel still accepts its TCP connections
  auto topo = t.load();
  runtime rt{actors::builtin_kinds(), topo.options()};
  auto started = rt.start(topo);
  REQUIRE_FALSE(started.ok());
  INFO(started.error().to_string());
  CHECK(started.error().is(errc::start_failed));
  CHECK(started.error().message().find("node.unreachable") != std::string::npos);
  auto& report = rt.stop();
  INFO(report.to_string());
  CHECK(report.stuck.empty()); // no connect left waiting on a thread
  CHECK_FALSE(report.loop_stuck);
  node->signal(SIGCONT);
}

TEST_CASE("a node over TLS serves only processes whose certificate its CA signed", "[nodes][tls]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  t.write(tls_of("main", "ca"), tls_of("node", "ca"));
  auto node = t.start_node();

  // A process whose certificate another CA signed (and which trusts only that CA): the TLS
  // handshake fails, and so does the start, within the connect deadline.
  t.write(tls_of("stranger", "other-ca"), tls_of("node", "ca"));
  auto stranger = start_error(t);
  INFO("stranger: " << stranger);
  CHECK(stranger.find("node.unreachable") != std::string::npos);
  // A process that speaks no TLS to it at all gets nothing either.
  t.write();
  auto plain = start_error(t);
  INFO("plain: " << plain);
  CHECK(plain.find("node.unreachable") != std::string::npos);

  // The node is unharmed: a process with a certificate of its CA is served, as over loopback.
  t.write(tls_of("main", "ca"), tls_of("node", "ca"));
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  std::vector<future<actors::echo_reply>> replies;
  for (int i = 0; i < 500; ++i)
    replies.push_back(far.submit(echo_of(std::string(i * 64, 'x') + std::to_string(i))));
  for (int i = 0; i < 500; ++i) {
    REQUIRE(replies[i].wait_for(30s));
    auto r = replies[i].get();
    REQUIRE(r.ok());
    CHECK(r->payload == value{std::string(i * 64, 'x') + std::to_string(i)});
  }
  CHECK_FALSE(rt.stop().loop_stuck);
  node->signal(SIGTERM);
  REQUIRE(node->wait(20s) == 0);
}

TEST_CASE("a TLS node must prove it is the node the topology names, not any certificate of its CA",
          "[nodes][tls]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  // The process at the node's address holds another certificate of the same CA (main's): the
  // TLS handshake and the secret pass, but it cannot sign with the key of node.pem.
  t.write_to(t.file, t.port, tls_of("main", "ca"), tls_of("main", "ca"));
  auto node = t.start_node();
  t.main_port = t.port;
  t.write_to(t.main_file(), t.port, tls_of("node", "ca"), tls_of("node", "ca"));
  auto why = start_error(t);
  INFO(why);
  CHECK(why.find("node.refused") != std::string::npos);
  CHECK(why.find("is not the node the topology names") != std::string::npos);
  CHECK(why.find("node.pem") != std::string::npos);

  // The same process with the node's own identity is served.
  node->signal(SIGTERM);
  REQUIRE(node->wait(20s) == 0);
  t.write_to(t.file, t.port, tls_of("main", "ca"), tls_of("node", "ca"));
  auto genuine = t.start_node();
  CHECK(start_error(t) == "");
}

TEST_CASE("a node whose key is encrypted serves with the passphrase from its variable",
          "[nodes][tls]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  env_scope passphrase{"LOOPBRIDGE_TEST_KEY_PASSPHRASE", "node test passphrase"};
  two_nodes t;
  auto at = lbtest::source_dir() + "/tests/nodes/tls/";
  t.write(tls_of("main", "ca"), "{certificate: " + at + "node.pem, key: " + at +
                                    "node-encrypted.key, cafile: " + at +
                                    "ca.pem, passphrase_env: LOOPBRIDGE_TEST_KEY_PASSPHRASE}");
  auto node = t.start_node(); // decrypted its key for CAF's TLS layer and for its signature
  runtime rt{actors::builtin_kinds(), t.load()};
  auto far = *rt.actor<actors::echo>("far");
  auto r = far.call(echo_of("sealed"), 10s);
  REQUIRE(r.ok());
  CHECK(r->payload == value{"sealed"});
  CHECK_FALSE(rt.stop().loop_stuck);
}

TEST_CASE("TLS files that cannot work are refused with what is wrong", "[nodes][tls]") {
  env_scope s{"LOOPBRIDGE_NODE_SECRET", secret};
  two_nodes t;
  auto at = lbtest::source_dir() + "/tests/nodes/tls/";
  auto identity = [&](const std::string& cert, const std::string& key, const std::string& ca) {
    return "{certificate: " + at + cert + ", key: " + at + key + ", cafile: " + at + ca + "}";
  };
  auto encrypted = [&](const std::string& variable) {
    return "{certificate: " + at + "node.pem, key: " + at + "node-encrypted.key, cafile: " + at +
           "ca.pem, passphrase_env: " + variable + "}";
  };
  env_scope wrong{"LOOPBRIDGE_TEST_WRONG_PASSPHRASE", "not the node test passphrase"};
  ::unsetenv("LOOPBRIDGE_TEST_UNSET_PASSPHRASE");
  struct bad {
    std::string main_tls;
    std::string says;
  };
  for (auto& b : std::vector<bad>{
           {identity("main.pem", "node.key", "ca.pem"), "is not the key of the certificate"},
           {identity("stranger.pem", "stranger.key", "ca.pem"), "is not accepted by the cafile"},
           {identity("make-certs", "main.key", "ca.pem"), "is not a PEM certificate"},
           {identity("main.pem", "main.pem", "ca.pem"),
            "is not a PEM private key that needs no passphrase"},
           {identity("main.pem", "main.key", "make-certs"), "holds no PEM certificate"},
           // An encrypted key: without passphrase_env, with its variable unset, with another
           // passphrase in it.
           {identity("node.pem", "node-encrypted.key", "ca.pem"),
            "(an encrypted key needs passphrase_env)"},
           {encrypted("LOOPBRIDGE_TEST_UNSET_PASSPHRASE"),
            "the passphrase variable LOOPBRIDGE_TEST_UNSET_PASSPHRASE of the key"},
           {encrypted("LOOPBRIDGE_TEST_WRONG_PASSPHRASE"),
            "that the passphrase in LOOPBRIDGE_TEST_WRONG_PASSPHRASE decrypts"},
       }) {
    t.write(b.main_tls, tls_of("node", "ca"));
    auto said = start_error(t);
    INFO(b.main_tls << " -> " << said);
    CHECK(said.find("uses TLS, but this process's TLS identity cannot be used") !=
          std::string::npos);
    CHECK(said.find(b.says) != std::string::npos);
  }
  // A node with TLS and no identity for the main process: the loader says where.
  t.write("", tls_of("node", "ca"));
  auto loaded = config::load(t.file, actors::builtin_kinds());
  REQUIRE_FALSE(loaded.topology);
  INFO(loaded.report());
  CHECK(loaded.report().find("nodes[0].tls") != std::string::npos);
  CHECK(loaded.report().find("add runtime.tls") != std::string::npos);
  // The same from code: a runtime without an identity cannot place an actor on a TLS node.
  auto topo = [&] {
    t.write(tls_of("main", "ca"), tls_of("node", "ca"));
    return *config::load(t.file, actors::builtin_kinds()).topology;
  }();
  topo.runtime.tls = {};
  try {
    runtime rt{actors::builtin_kinds(), topo};
    FAIL("started without a TLS identity");
  } catch (const error_exception& e) {
    INFO(e.what());
    CHECK(e.error().message().find("has no TLS identity") != std::string::npos);
  }
}
