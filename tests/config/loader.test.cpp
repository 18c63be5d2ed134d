// The topology loader: every valid example loads; every file of the invalid corpus yields
// exactly its recorded messages (each located), and nothing ever throws.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "fuzz/one_line.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/config/scenario.hpp"
#include "loopbridge/config/schema.hpp"
#include "loopbridge/tools/value_requests.hpp"
#include "support/paths.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace std::chrono_literals;

namespace {

using lbtest::source_dir;

std::vector<std::string> files_in(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  if (auto* d = opendir(dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
        out.push_back(name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The corpus is checked against the echo kind alone, so its messages do not change when
/// more kinds are registered.
kind_registry corpus_kinds() {
  kind_registry k;
  k.add<actors::echo>();
  k.adapt<actors::echo_reply, actors::echo_request>(
      [](actors::echo_reply&& r) { return actors::echo_request{std::move(r.payload)}; });
  return k;
}

} // namespace

TEST_CASE("every invalid topology yields its recorded, located messages and never throws",
          "[config]") {
  auto dir = source_dir() + "/tests/config/invalid/";
  auto files = files_in(dir, ".yaml");
  REQUIRE(files.size() >= 40);
  auto kinds = corpus_kinds();
  for (auto& name : files) {
    INFO(name);
    config::load_result r;
    REQUIRE_NOTHROW(r = config::parse(read(dir + name), kinds, name));
    CHECK_FALSE(r.ok());
    REQUIRE_FALSE(r.problems.empty());
    for (auto& p : r.problems) {
      CHECK(p.line >= 1);
      CHECK(p.column >= 1);
      CHECK(p.file == name);
      CHECK_FALSE(p.message.empty());
      CHECK(lbfuzz::one_printable_line(p.to_string()));
    }
    auto expected_path = dir + name.substr(0, name.size() - 5) + ".expected";
    if (const char* update = std::getenv("LOOPBRIDGE_UPDATE_EXPECTED"); update && *update == '1')
      std::ofstream{expected_path, std::ios::binary} << r.report(); // review the diff, then commit
    CHECK(r.report() == read(expected_path));
  }
}

TEST_CASE("every example topology loads", "[config]") {
  auto kinds = actors::builtin_kinds();
  for (auto dir : {source_dir() + "/config/examples/", source_dir() + "/examples/topologies/"}) {
    for (auto& name : files_in(dir, ".yaml")) {
      INFO(dir + name);
      auto r = config::load(dir + name, kinds);
      CHECK(r.report() == "");
      CHECK(r.ok());
    }
  }
}

TEST_CASE("a three-line topology gets sensible defaults", "[config]") {
  auto r = config::parse("actors:\n  - name: echo\n    kind: echo\n", corpus_kinds(), "mini.yaml");
  REQUIRE(r.ok());
  auto& t = *r.topology;
  REQUIRE(t.actors.size() == 1);
  CHECK(t.actors[0].count == 1);
  CHECK(t.actors[0].mailbox.overflow == overflow_policy::block);
  CHECK(t.actors[0].restart.policy == restart_policy::never);
  CHECK(t.runtime.shutdown_budget == runtime_options{}.shutdown_budget);
  CHECK_FALSE(t.workload);
}

TEST_CASE("every section and field reaches the topology value", "[config]") {
  auto r = config::load(source_dir() + "/config/examples/pipeline.yaml", actors::builtin_kinds());
  REQUIRE(r.ok());
  auto& t = *r.topology;
  CHECK(t.runtime.scheduler_threads == 4);
  CHECK(t.runtime.slow_handler == 250ms);
  CHECK(t.runtime.default_deadline == 5s);
  CHECK(t.runtime.shutdown_budget == 3s);
  REQUIRE(t.actors.size() == 2);
  auto& w = t.actors[1];
  CHECK(w.name == "workers");
  CHECK(w.count == 4);
  CHECK(w.mailbox.capacity == 1000);
  CHECK(w.restart.policy == restart_policy::on_failure);
  CHECK(w.restart.max_restarts == 3);
  CHECK(w.restart.period == 60s);
  CHECK(w.depends_on == std::vector<std::string>{"store"});
  CHECK(w.ready_timeout == 5s);
  CHECK(w.max_suspended == 16);
  CHECK(w.params.find("delay")->as_duration() == 1ms);
  REQUIRE(t.routes.size() == 1);
  CHECK(t.routes[0].from == "workers");
  REQUIRE(t.workload);
  CHECK(t.workload->entry == "workers");
  CHECK(t.workload->request == "echo");
  CHECK(t.workload->total == 100);
  CHECK(t.workload->concurrency == 16);
  CHECK(t.workload->timeout == 2s);
}

TEST_CASE("YAML scalars are typed by the core schema, quoted ones stay strings", "[config]") {
  auto r = config::parse("actors:\n  - name: a\n    kind: echo\n"
                         "workload:\n  entry: a\n  request: echo\n  requests:\n"
                         "    - {payload: 42}\n    - {payload: '42'}\n    - {payload: 1.5}\n"
                         "    - {payload: true}\n    - {payload: ~}\n    - {payload: [1, x]}\n",
                         corpus_kinds(), "typed.yaml");
  REQUIRE(r.ok());
  auto& req = r.topology->workload->requests;
  REQUIRE(req.size() == 6);
  CHECK(*req[0].find("payload") == value{42});
  CHECK(*req[1].find("payload") == value{"42"});
  CHECK(*req[2].find("payload") == value{1.5});
  CHECK(*req[3].find("payload") == value{true});
  CHECK(req[4].find("payload")->is_null());
  CHECK(*req[5].find("payload") == value{value::list{1, "x"}});
}

TEST_CASE("workload.context is a map of fields, anything else is a located error", "[config]") {
  auto ok = config::parse("actors:\n  - name: a\n    kind: echo\n"
                          "workload:\n  entry: a\n  request: echo\n"
                          "  generate: {count: 3, fields: {payload: 'x{i}'}}\n"
                          "  context: {output: 'f{i}.txt'}\n",
                          corpus_kinds(), "ctx.yaml");
  REQUIRE(ok.ok());
  CHECK(ok.topology->workload->context == value{{"output", "f{i}.txt"}});
  auto bad = config::parse("actors:\n  - name: a\n    kind: echo\n"
                           "workload:\n  entry: a\n  request: echo\n  requests: [{payload: 1}]\n"
                           "  context: [1, 2]\n",
                           corpus_kinds(), "ctx.yaml");
  REQUIRE_FALSE(bad.ok());
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].line == 8);
  CHECK(bad.problems[0].path == "workload.context");
}

TEST_CASE("a loaded topology starts, and nothing starts from an invalid one", "[config]") {
  auto kinds = actors::builtin_kinds();
  auto r = config::load(source_dir() + "/config/examples/pipeline.yaml", kinds);
  REQUIRE(r.ok());
  runtime rt{kinds, *r.topology};
  auto h = rt.actor<actors::echo>("workers").value();
  CHECK(h.call(actors::echo_request{"hi"}, 5s).ok());
  auto m = rt.metrics();
  REQUIRE(m.size() == 2);
  CHECK(m[0].name == "store"); // dependencies first
  CHECK(m[1].instances == 4);
}

TEST_CASE("nodes: addresses, secrets and TLS files load, and placements name them",
          "[config][nodes]") {
  // TLS files are found from the topology file's folder.
  char folder[] = "/tmp/loopbridge-nodes-XXXXXX";
  REQUIRE(::mkdtemp(folder) != nullptr);
  std::string dir = folder;
  for (auto* name : {"far.pem", "far.key", "ca.pem", "main.pem", "main.key"})
    std::ofstream{dir + "/" + name} << "-----BEGIN-----\n";
  std::ofstream{dir + "/nodes.yaml"} << R"(runtime:
  tls: {certificate: main.pem, key: main.key, cafile: ca.pem}
nodes:
  - name: side
    address: 127.0.0.1:7401
  - name: far
    address: "[2001:db8::7]:7402"
    secret_env: FAR_SECRET
    tls: {certificate: far.pem, key: far.key, cafile: ca.pem}
actors:
  - name: here
    kind: echo
  - name: there
    kind: echo
    node: far
  - name: thumbs
    kind: image_processor
    count: 3
    node: side
)";
  auto r = config::load(dir + "/nodes.yaml", actors::builtin_kinds());
  REQUIRE(r.report() == "");
  auto& t = *r.topology;
  REQUIRE(t.nodes.size() == 2);
  CHECK(t.nodes[0].name == "side");
  CHECK(t.nodes[0].host == "127.0.0.1");
  CHECK(t.nodes[0].port == 7401);
  CHECK(t.nodes[0].secret_env == "LOOPBRIDGE_NODE_SECRET");
  CHECK_FALSE(t.nodes[0].tls.enabled());
  CHECK(t.nodes[1].host == "2001:db8::7");
  CHECK(t.nodes[1].port == 7402);
  CHECK(t.nodes[0].address() == "127.0.0.1:7401");
  CHECK(t.nodes[1].address() == "[2001:db8::7]:7402"); // as written, not ambiguous
  CHECK(t.nodes[1].secret_env == "FAR_SECRET");
  CHECK(t.nodes[1].tls.certificate == dir + "/far.pem");
  CHECK(t.nodes[1].tls.key == dir + "/far.key");
  CHECK(t.nodes[1].tls.cafile == dir + "/ca.pem");
  CHECK(t.runtime.tls.certificate == dir + "/main.pem"); // the main process's own identity
  CHECK(t.runtime.tls.key == dir + "/main.key");
  CHECK(t.runtime.tls.cafile == dir + "/ca.pem");
  CHECK(t.actors[0].node.empty());
  CHECK(t.actors[1].node == "far");
  CHECK(t.actors[2].node == "side");

  // One TLS file gone: named at its key, relative to the file's folder.
  std::remove((dir + "/far.key").c_str());
  auto missing = config::load(dir + "/nodes.yaml", actors::builtin_kinds());
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0].path == "nodes[1].tls.key");
  CHECK(missing.problems[0].message == "no file 'far.key'");
  CHECK(missing.problems[0].hint == "relative paths start from the topology file's folder");
  for (auto* name : {"far.pem", "ca.pem", "main.pem", "main.key", "nodes.yaml"})
    std::remove((dir + "/" + name).c_str());
  ::rmdir(folder);
}

TEST_CASE("kinds whose requests cannot cross a process stay in the main one", "[config][nodes]") {
  auto kinds = actors::builtin_kinds();
  CHECK(kinds.find("echo")->portable());
  CHECK(kinds.find("fetcher")->portable());
  CHECK_FALSE(kinds.find("blocking")->portable()); // offloaded functions are closures
  auto r = config::parse(R"(nodes:
  - name: side
    address: localhost:7401
actors:
  - name: pool
    kind: blocking
    node: side
)",
                         kinds, "offload.yaml");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].line == 7);
  CHECK(r.problems[0].path == "actors[0].node");
  CHECK(r.problems[0].message ==
        "actor 'pool' of kind 'blocking' cannot run on another node: it runs offloaded functions");
}

TEST_CASE("a runtime made without the network refuses actors placed on a node, and starts "
          "nothing",
          "[config][nodes]") {
  auto r = config::parse(R"(nodes:
  - name: side
    address: 127.0.0.1:7401
actors:
  - name: here
    kind: echo
  - name: there
    kind: echo
    node: side
)",
                         actors::builtin_kinds(), "placed.yaml");
  REQUIRE(r.ok());
  runtime rt{actors::builtin_kinds(), lbtest::quick_options()};
  auto started = rt.start(*r.topology);
  REQUIRE(started.is(errc::bad_request));
  CHECK(started.error().message() ==
        "actor 'there' is placed on node 'side', but this runtime was made without nodes: make "
        "it with the topology that declares them (or set runtime_options::network)");
  CHECK(rt.metrics().empty());
  CHECK(rt.actor<actors::echo>("here").is(errc::not_found));
}

TEST_CASE("requests from YAML fields reach a kind and print as values", "[config]") {
  runtime rt{actors::builtin_kinds(), lbtest::quick_options()};
  rt.spawn("e", "echo").value();
  auto ok = tools::submit_value(rt, "e", "echo",
                                value{{"payload", value::list{1, "two"}}, {"delay", "1ms"}})
                .get();
  REQUIRE(ok.ok());
  CHECK(*ok->find("payload") == value{value::list{1, "two"}});
  CHECK(ok->find("request_id")->as_integer() > 0);
  auto stats = tools::submit_value(rt, "e", "echo_stats", value{}).get();
  REQUIRE(stats.ok());
  CHECK(stats->find("received")->as_integer() == 1);
  auto typo = tools::submit_value(rt, "e", "echo", value{{"paylod", 1}}).get();
  REQUIRE(typo.is(errc::bad_request));
  CHECK(typo.error().message() == "request 'echo' to 'e': paylod: unknown field (did you mean "
                                  "'payload'?)");
  auto unknown = tools::submit_value(rt, "e", "ehco", value{}).get();
  REQUIRE(unknown.is(errc::not_found));
  CHECK(unknown.error().message() ==
        "actor 'e' (kind echo) serves no request 'ehco' (did you mean 'echo'?)");
  auto far = tools::submit_value(rt, "e", "xyzzy", value{}).get();
  REQUIRE(far.is(errc::not_found));
  CHECK(far.error().message() ==
        "actor 'e' (kind echo) serves no request 'xyzzy' (kind echo serves: echo echo_stats)");
  CHECK(tools::submit_value(rt, "nobody", "echo", value{}).get().is(errc::not_found));
}

TEST_CASE("inputs beyond the limits fail cleanly", "[config]") {
  config::load_limits small;
  small.max_bytes = 64;
  auto big = config::parse(std::string(100, '#'), corpus_kinds(), "big.yaml", small);
  REQUIRE(big.problems.size() == 1);
  CHECK(big.problems[0].message == "the file is too large (100 bytes)");
  auto missing = config::load("/nonexistent/topology.yaml", corpus_kinds());
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0].message == "cannot open the file: No such file or directory");
}

TEST_CASE("a huge key or value is echoed cut short, on one line", "[config]") {
  std::string huge(200'000, 'k');
  std::string long_key(1000, 'k'); // YAML's limit for a plain key
  auto text = "actors:\n  - name: a\n    kind: echo\n    " + long_key +
              ": 1\n  - name: b\n    kind: \"" + huge + "\\n\"\n";
  auto r = config::parse(text, corpus_kinds(), "huge.yaml");
  REQUIRE(r.problems.size() == 2);
  for (auto& p : r.problems) {
    INFO(p.to_string().substr(0, 300));
    CHECK(lbfuzz::one_printable_line(p.to_string()));
    CHECK(p.to_string().size() < 1200);
  }
}

TEST_CASE("both loaders read files through one bounded path: directories, devices, big files",
          "[config]") {
  lbtest::temp_dir dir;
  auto big_file = dir.path() + "/big.yaml";
  std::ofstream{big_file} << std::string(100, '#');
  config::load_limits small;
  small.max_bytes = 64;
  auto expect_one = [](const std::vector<config::problem>& problems, const std::string& message) {
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message == message);
  };
  for (auto scenario : {false, true}) {
    INFO((scenario ? "scenario loader" : "topology loader"));
    auto load = [&](const std::string& path, config::load_limits limits) {
      return scenario ? config::load_scenario(path, corpus_kinds(), limits).problems
                      : config::load(path, corpus_kinds(), limits).problems;
    };
    expect_one(load(dir.path(), {}), "is a directory");
    expect_one(load(big_file, small), "the file is too large (more than 64 bytes)");
    // An endless device costs no more than the limit and says so.
    expect_one(load("/dev/zero", small), "the file is too large (more than 64 bytes)");
    expect_one(load(dir.path() + "/absent.yaml", {}),
               "cannot open the file: No such file or directory");
  }
}

TEST_CASE("the JSON Schema and the reference in docs/topology.md match the loader's table",
          "[config]") {
  auto kinds = actors::builtin_kinds();
  CHECK(read(source_dir() + "/config/topology.schema.json") == config::json_schema(kinds));
  auto doc = read(source_dir() + "/docs/topology.md");
  std::string begin = "<!-- BEGIN GENERATED: loopbridge schema --markdown -->\n";
  auto from = doc.find(begin);
  auto to = doc.find("<!-- END GENERATED -->");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  INFO("run scripts/regen-docs after changing the topology format or a kind's params");
  CHECK(doc.substr(from + begin.size(), to - from - begin.size()) ==
        config::markdown_reference(kinds));
  // Every key the loader accepts is documented, and nothing else.
  for (auto section : {"", "runtime", "actors[]", "actors[].mailbox", "routes[]", "workload"})
    for (auto& key : config::keys_of(section))
      CHECK(doc.find("| `" + key + "`") != std::string::npos);
}

namespace {
/// Runs `fn` on a thread with a 256 KiB stack (a tenth of the usual), and waits for it: a check
/// that recursed in proportion to its input would overflow it.
void on_small_stack(std::function<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  auto body = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&t, &attr, body, &fn) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

/// `n` echo actors, each depending on the one before; with `cycle`, the first depends on the
/// last.
std::string chain(int n, bool cycle) {
  std::string text = "actors:\n";
  for (int i = 0; i < n; ++i) {
    text += "  - {name: a" + std::to_string(i) + ", kind: echo";
    if (i > 0 || cycle)
      text += ", depends_on: [a" + std::to_string(i > 0 ? i - 1 : n - 1) + "]";
    text += "}\n";
  }
  return text;
}
} // namespace

TEST_CASE("a long depends_on chain is checked without deep recursion", "[config][hostile]") {
  auto kinds = actors::builtin_kinds();
  config::load_result ok, cyclic;
  on_small_stack([&] {
    ok = config::parse(chain(17000, false), kinds, "chain.yaml");
    cyclic = config::parse(chain(17000, true), kinds, "cycle.yaml");
  });
  CHECK(ok.ok());
  REQUIRE(cyclic.problems.size() == 1);
  auto& p = cyclic.problems[0];
  CHECK(p.file == "cycle.yaml");
  CHECK(p.line > 1); // located at the depends_on that closes it
  CHECK(p.message.find("depends_on cycle") != std::string::npos);
  CHECK(p.message.size() < 400); // a 17,000-actor cycle is summarised, not spelled out
}

TEST_CASE("a long depends_on cycle is refused by the runtime without deep recursion",
          "[config][hostile]") {
  auto kinds = actors::builtin_kinds();
  std::vector<actor_spec> specs;
  for (int i = 0; i < 17000; ++i) {
    actor_spec s;
    s.name = "a" + std::to_string(i);
    s.kind = "echo";
    s.depends_on = {"a" + std::to_string(i > 0 ? i - 1 : 16999)};
    specs.push_back(std::move(s));
  }
  runtime rt{kinds, lbtest::quick_options()};
  result<void> started;
  on_small_stack([&] { started = rt.start(specs); });
  REQUIRE(started.is(errc::bad_request));
  CHECK(started.error().message().find("depends_on cycle") != std::string::npos);
  CHECK(rt.metrics().empty()); // nothing started
}

TEST_CASE("count reaches 2^20 instances, threads per instance stay within the machine's limit",
          "[config][scale]") {
  auto big = config::parse("actors:\n  - name: a\n    kind: echo\n    count: 1048576\n",
                           corpus_kinds(), "big.yaml");
  REQUIRE(big.ok());
  CHECK(big.topology->actors[0].count == max_instances);
  auto over = config::parse("actors:\n  - name: a\n    kind: echo\n    count: 1048577\n",
                            corpus_kinds(), "over.yaml");
  REQUIRE(over.problems.size() == 1);
  CHECK(over.problems[0].line == 4);
  CHECK(over.problems[0].path == "actors[0].count");
  // A kind with a thread per instance: refused past the machine's limit, at the count's line.
  auto limit = std::to_string(instance_thread_limit());
  auto threads = config::parse("actors:\n  - name: b\n    kind: blocking\n    count: " +
                                   std::to_string(instance_thread_limit() + 1) + "\n",
                               actors::builtin_kinds(), "threads.yaml");
  REQUIRE(threads.problems.size() == 1);
  CHECK(threads.problems[0].line == 4);
  CHECK(threads.problems[0].message.find("would need a thread per instance, over this "
                                         "machine's limit of " +
                                         limit) != std::string::npos);
  // The runtime refuses the same counts at spawn, before it creates anything.
  runtime rt{actors::builtin_kinds()};
  actor_spec s;
  s.name = "many";
  s.kind = "echo";
  s.count = max_instances + 1;
  CHECK(rt.spawn(s).is(errc::bad_request));
  s.kind = "blocking";
  s.count = instance_thread_limit() + 1;
  auto refused = rt.spawn(s);
  REQUIRE(refused.is(errc::bad_request));
  CHECK(refused.error().message().find("would need a thread per instance") != std::string::npos);
}
