// The `loopbridge` command, run as a user would: exit codes, output streams, messages.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

#include "support/paths.hpp"
#include "support/test_support.hpp"

namespace {

struct run_result {
  int exit_code = -1;
  std::string out; ///< stdout
  std::string err; ///< stderr
};

/// Runs `loopbridge ARGS` with stdout and stderr captured separately.
run_result run_cli(const std::string& args) {
  auto err_file = std::string{"/tmp/loopbridge-cli-test-"} + std::to_string(::getpid()) + ".err";
  std::string cmd = lbtest::cli_program() + " " + args + " 2>" + err_file;
  run_result r;
  if (auto* p = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
      r.out.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (auto* f = fopen(err_file.c_str(), "r")) {
    std::array<char, 4096> buf;
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0)
      r.err.append(buf.data(), n);
    fclose(f);
  }
  std::remove(err_file.c_str());
  return r;
}

std::string src(const std::string& rel) {
  return lbtest::source_dir() + "/" + rel;
}

} // namespace

TEST_CASE("loopbridge check: a valid file exits 0 with a summary on stdout", "[cli]") {
  auto r = run_cli("check " + src("config/examples/pipeline.yaml"));
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("valid; would start 2 actors") != std::string::npos);
  CHECK(r.out.find("workers: echo x4 (pool), after store") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("loopbridge check: problems go to stdout with exit code 1", "[cli]") {
  auto r = run_cli("check " + src("config/examples/minimal.yaml") + " " +
                   src("tests/config/invalid/many_problems.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("minimal.yaml: valid") != std::string::npos); // the other file is still checked
  CHECK(r.out.find("many_problems.yaml:3:14: runtime.log_level: 'loud' is not allowed") !=
        std::string::npos);
  CHECK(r.out.find("many_problems.yaml: 9 problems") != std::string::npos);
  CHECK(r.err.empty()); // so `check FILE | grep` sees everything
}

TEST_CASE("loopbridge: bad arguments exit 2, --help exits 0", "[cli]") {
  CHECK(run_cli("").exit_code == 2);
  CHECK(run_cli("check").exit_code == 2);
  CHECK(run_cli("frobnicate").exit_code == 2);
  CHECK(run_cli("frobnicate").err.find("unknown command 'frobnicate'") != std::string::npos);
  for (auto cmd : {"--help", "check --help", "graph --help", "schema --help"}) {
    auto r = run_cli(cmd);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("usage: loopbridge") != std::string::npos);
  }
  CHECK(run_cli("check /nonexistent.yaml").out.find("cannot open the file") != std::string::npos);
}

TEST_CASE("loopbridge scenario: PASS/FAIL per step, exit codes, JUnit XML", "[cli][scenarios]") {
  auto ok = run_cli("scenario " + src("tests/scenarios/05_context.yaml"));
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("PASS steps[3] await second") != std::string::npos);
  CHECK(ok.out.find("1 scenario, 1 passed, 0 failed") != std::string::npos);
  auto junit = std::string{"/tmp/loopbridge-cli-junit-"} + std::to_string(::getpid()) + ".xml";
  auto bad = run_cli("scenario --junit " + junit + " " + src("tests/scenarios/05_context.yaml") +
                     " " + src("tests/scenarios/must-fail/too_tight.yaml"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("FAIL steps[0] call echo (echo)") != std::string::npos);
  CHECK(bad.out.find("expected: a reply matching {\"payload\": \"slow\"}") != std::string::npos);
  CHECK(bad.out.find("actual:   error loop.timeout") != std::string::npos);
  CHECK(bad.out.find("2 scenarios, 1 passed, 1 failed") != std::string::npos);
  std::string xml;
  if (auto* f = fopen(junit.c_str(), "r")) {
    std::array<char, 4096> buf;
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0)
      xml.append(buf.data(), n);
    fclose(f);
  }
  std::remove(junit.c_str());
  CHECK(xml.find("tests=\"2\" failures=\"1\"") != std::string::npos);
  CHECK(run_cli("scenario").exit_code == 2);
  CHECK(run_cli("scenario --help").out.find("usage: loopbridge scenario") != std::string::npos);
}

TEST_CASE("loopbridge graph prints DOT with actors, pools, routes and dependencies", "[cli]") {
  auto r = run_cli("graph " + src("config/examples/pipeline.yaml"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("digraph topology {", 0) == 0);
  CHECK(r.out.find("\"workers\" [label=\"workers\\necho x4\\nstart 2\"") != std::string::npos);
  CHECK(r.out.find("\"workers\" -> \"store\" [style=bold, label=\"route\"]") != std::string::npos);
  CHECK(r.out.find("\"workers\" -> \"store\" [style=dashed") != std::string::npos);
  CHECK(r.out.find("\"workload\" -> \"workers\"") != std::string::npos);
  CHECK(run_cli("graph " + src("tests/config/invalid/cycle_two.yaml")).exit_code == 1);
}

TEST_CASE("loopbridge check and graph show nodes and what runs on them", "[cli][nodes]") {
  auto file = std::string{"/tmp/loopbridge-cli-nodes-"} + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out{file};
    out << "nodes:\n  - name: side\n    address: 127.0.0.1:7401\n"
           "actors:\n  - name: here\n    kind: echo\n"
           "  - name: there\n    kind: echo\n    count: 2\n    node: side\n";
  }
  auto check = run_cli("check " + file);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("there: echo x2 (pool) on node side") != std::string::npos);
  CHECK(check.out.find("node side: 127.0.0.1:7401, loopback without tls, secret from "
                       "$LOOPBRIDGE_NODE_SECRET; start it with `loopbridge node --node side "
                       "FILE`") != std::string::npos);
  auto graph = run_cli("graph " + file);
  REQUIRE(graph.exit_code == 0);
  auto cluster = graph.out.find("subgraph \"cluster_node_0\" {");
  REQUIRE(cluster != std::string::npos);
  CHECK(graph.out.find("label=\"node side (127.0.0.1:7401)\"", cluster) != std::string::npos);
  CHECK(graph.out.find("    \"there\" [label=", cluster) != std::string::npos); // inside it
  CHECK(graph.out.find("  \"here\" [label=") < cluster);                        // outside it
  std::remove(file.c_str());
}

TEST_CASE("check and graph take 100k named actors in a dependency chain and a 2^20 pool",
          "[cli][scale]") {
  // One file at the loader's scale: 100,000 named actors (10,000 under the sanitizers), each
  // depending on the one before (one start wave each), and a pool of 1,048,576 instances. The
  // graph's start waves were computed with a pass over every actor per actor (minutes here).
  const int named = lbtest::address_sanitizer || lbtest::thread_sanitizer ? 10000 : 100000;
  auto file = std::string{"/tmp/loopbridge-cli-test-"} + std::to_string(::getpid()) + ".yaml";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    REQUIRE(f);
    std::fputs("actors:\n  - {name: pool, kind: echo, count: 1048576}\n", f);
    std::fputs("  - {name: a0, kind: echo}\n", f);
    for (int i = 1; i < named; ++i)
      std::fprintf(f, "  - {name: a%d, kind: echo, depends_on: [a%d]}\n", i, i - 1);
    std::fclose(f);
  }
  auto checked = run_cli("check " + file);
  auto graph = run_cli("graph " + file);
  std::remove(file.c_str());
  CHECK(checked.exit_code == 0);
  CHECK(checked.out.find("pool: echo x1048576 (pool)") != std::string::npos);
  REQUIRE(graph.exit_code == 0);
  CHECK(graph.out.find("\"pool\" [label=\"pool\\necho x1048576\\nstart 1\"") != std::string::npos);
  CHECK(graph.out.find("\"a0\" [label=\"a0\\necho\\nstart 1\"") != std::string::npos);
  auto last = "a" + std::to_string(named - 1), before = "a" + std::to_string(named - 2);
  CHECK(graph.out.find("\"" + last + "\" [label=\"" + last + "\\necho\\nstart " +
                       std::to_string(named) + "\"") != std::string::npos);
  CHECK(graph.out.find("\"" + last + "\" -> \"" + before + "\" [style=dashed") !=
        std::string::npos);
}

TEST_CASE("loopbridge schema prints the JSON Schema", "[cli]") {
  auto r = run_cli("schema");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"") !=
        std::string::npos);
  CHECK(run_cli("schema --markdown").out.find("### `actors[]`") != std::string::npos);
}
