// The `loopbridge` command, run as a user would: exit codes, output streams, messages.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct run_result {
  int exit_code = -1;
  std::string out; ///< stdout
  std::string err; ///< stderr
};

/// Runs `loopbridge ARGS` with stdout and stderr captured separately.
run_result run_cli(const std::string& args) {
  auto err_file = std::string{"/tmp/loopbridge-cli-test-"} + std::to_string(::getpid()) + ".err";
  std::string cmd = std::string{LOOPBRIDGE_CLI} + " " + args + " 2>" + err_file;
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
  return std::string{LOOPBRIDGE_SOURCE_DIR} + "/" + rel;
}

} // namespace

TEST_CASE("loopbridge check: a valid file exits 0 with a summary on stdout", "[cli]") {
  auto r = run_cli("check " + src("config/examples/pipeline.yaml"));
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("valid; would start 2 actors") != std::string::npos);
  CHECK(r.out.find("workers: echo x4 (pool), after store") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("loopbridge check: problems go to stderr with exit code 1", "[cli]") {
  auto r = run_cli("check " + src("config/examples/minimal.yaml") + " " +
                   src("tests/config/invalid/many_problems.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("minimal.yaml: valid") != std::string::npos); // the other file is still checked
  CHECK(r.err.find("many_problems.yaml:3:14: runtime.log_level: 'loud' is not allowed") !=
        std::string::npos);
  CHECK(r.err.find("many_problems.yaml: 9 problems") != std::string::npos);
}

TEST_CASE("loopbridge: bad arguments exit 2; --help exits 0", "[cli]") {
  CHECK(run_cli("").exit_code == 2);
  CHECK(run_cli("check").exit_code == 2);
  CHECK(run_cli("frobnicate").exit_code == 2);
  CHECK(run_cli("frobnicate").err.find("unknown command 'frobnicate'") != std::string::npos);
  for (auto cmd : {"--help", "check --help", "graph --help", "schema --help"}) {
    auto r = run_cli(cmd);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("usage: loopbridge") != std::string::npos);
  }
  CHECK(run_cli("check /nonexistent.yaml").err.find("cannot open the file") != std::string::npos);
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

TEST_CASE("loopbridge schema prints the JSON Schema", "[cli]") {
  auto r = run_cli("schema");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"") !=
        std::string::npos);
  CHECK(run_cli("schema --markdown").out.find("### `actors[]`") != std::string::npos);
}
