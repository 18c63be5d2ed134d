// `loopbridge demo` and `loopbridge run` end to end, as child processes: the pipeline's outputs,
// the summary (table and JSON) against what was written, injected origin faults, Ctrl-C once
// and twice, and bad arguments.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <fstream>
#include <regex>
#include <vips/vips8>

#include "loopbridge/actors/image_processor.hpp"
#include "support/child_process.hpp"
#include "support/paths.hpp"

using namespace std::chrono_literals;
using lbtest::child_process;

namespace {

const std::string cli = lbtest::cli_program();

/// The demo's source images, generated once and shared by the tests (and test processes).
std::string shared_images() {
  return "/tmp/loopbridge-test-demo-images";
}

/// Names of the regular files in `dir` (not hidden ones).
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

/// The integer after `"key": ` in a JSON text (the summary's flat fields), or -1.
long long json_int(const std::string& json, const std::string& key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex{"\"" + key + "\": (-?[0-9]+)"}))
    return std::stoll(m[1]);
  return -1;
}

/// Waits until the child printed a progress line with at least `done` finished requests.
bool wait_for_progress(const child_process& c, long long done, std::chrono::seconds timeout) {
  return lbtest::eventually(
      [&] {
        std::smatch m;
        auto out = c.out();
        std::regex line{"([0-9]+)/[0-9]+ done"};
        long long best = -1;
        for (auto it = std::sregex_iterator(out.begin(), out.end(), line);
             it != std::sregex_iterator(); ++it)
          best = std::max(best, std::stoll((*it)[1]));
        return best >= done;
      },
      timeout);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream{path} << text;
}

} // namespace

TEST_CASE("demo: every thumbnail is written, decodes at the asked size, and the summary counts "
          "them",
          "[cli][demo]") {
  lbtest::temp_dir scratch{"loopbridge-demo"};
  auto dir = scratch.path();
  child_process demo{cli,
                     {"demo", "--count", "60", "--size", "128", "--images", shared_images(),
                      "--json", "summary.json", "--progress-interval", "100"},
                     dir};
  REQUIRE(demo.wait(120s) == 0);
  auto out = demo.out();
  INFO(out << demo.err());
  // Written to ./out by default, one file per request.
  auto written = files_in(dir + "/out");
  CHECK(written.size() == 60);
  loopbridge::actors::image_processor::init_vips();
  int decoded = 0;
  for (auto& name : written) {
    auto img = vips::VImage::new_from_file((dir + "/out/" + name).c_str());
    CHECK(img.width() == 128);
    CHECK(img.bands() == 3);
    decoded += img.width() == 128 ? 1 : 0;
  }
  CHECK(decoded == 60);
  // The table and the JSON agree with the files.
  CHECK(out.find("demo: 60 of 60 requests") != std::string::npos);
  CHECK(out.find("succeeded 60, failed 0, not sent 0") != std::string::npos);
  for (auto stage : {"fetcher", "thumbnails", "writer"})
    CHECK(
        std::regex_search(out, std::regex{std::string{"\n  "} + stage + " +[a-z_]+ +[0-9]+ +60 "}));
  auto json = lbtest::slurp(dir + "/summary.json");
  CHECK(json_int(json, "succeeded") == static_cast<long long>(written.size()));
  CHECK(json_int(json, "failed") == 0);
  CHECK(json_int(json, "exit_code") == 0);
  CHECK(json.find("\"interrupted\": false") != std::string::npos);
  CHECK(json.find("\"name\": \"thumbnails\", \"kind\": \"image_processor\"") != std::string::npos);
  // Without a terminal, progress comes as plain lines.
  CHECK(out.find("\r") == std::string::npos);
  CHECK(out.find("done, ") != std::string::npos);
}

TEST_CASE("run: injected origin faults show up as failed requests with their codes, exit 1",
          "[cli][demo]") {
  lbtest::temp_dir scratch{"loopbridge-run"};
  auto dir = scratch.path();
  // The demo pipeline, with two images answered badly: one with a 503, one cut short.
  child_process prepare{cli, {"demo", "--count", "1", "--images", shared_images(), "--quiet"}, dir};
  REQUIRE(prepare.wait(120s) == 0);
  write_text(dir + "/faulty.yaml", R"(
actors:
  - name: origin
    kind: http_origin
    params:
      root: )" + shared_images() + R"(
      faults:
        - {path: /img-1.jpg, status: 503}
        - {path: /img-2.jpg, truncate: 1000}
  - {name: fetcher, kind: fetcher, depends_on: [origin]}
  - name: thumbnails
    kind: image_processor
    params: {ops: [{op: thumbnail, width: 64}], format: png}
  - {name: writer, kind: writer, params: {root: thumbs}}
routes:
  - {from: fetcher, to: thumbnails}
  - {from: thumbnails, to: writer}
workload:
  entry: fetcher
  request: fetch
  generate:
    count: 30
    fields: {url: "${origin.url}/img-{i%10}.jpg", raise_for_status: true}
  context: {output: "t{i}.png"}
  concurrency: 8
)");
  child_process run{cli, {"run", "faulty.yaml", "--json", "s.json", "--quiet"}, dir};
  REQUIRE(run.wait(60s) == 1);
  auto out = run.out();
  INFO(out << run.err());
  // img-1 and img-2 are each asked for 3 times (i % 10 over 30 requests).
  CHECK(out.find("succeeded 24, failed 6") != std::string::npos);
  CHECK(out.find("errors: fetch.http_status 3; fetch.protocol 3") != std::string::npos);
  CHECK(files_in(dir + "/thumbs").size() == 24);
  auto json = lbtest::slurp(dir + "/s.json");
  CHECK(json_int(json, "failed") == 6);
  CHECK(json_int(json, "fetch.http_status") == 3);
  CHECK(json_int(json, "fetch.protocol") == 3);
  CHECK(json_int(json, "exit_code") == 1);
}

TEST_CASE("run: the demo pipeline with thumbnails on a second node writes the same files",
          "[cli][demo][nodes]") {
  lbtest::temp_dir scratch{"loopbridge-run-node"};
  auto dir = scratch.path();
  child_process prepare{cli, {"demo", "--count", "1", "--images", shared_images(), "--quiet"}, dir};
  REQUIRE(prepare.wait(120s) == 0);
  auto topology = [&](const std::string& nodes, const std::string& placement,
                      const std::string& out) {
    return nodes + R"(
actors:
  - {name: origin, kind: http_origin, params: {root: )" +
           shared_images() + R"(}}
  - {name: fetcher, kind: fetcher, depends_on: [origin]}
  - name: thumbnails
    kind: image_processor)" +
           placement + R"(
    mailbox: {capacity: 16, overflow: block}
    params: {ops: [{op: thumbnail, width: 96}], format: jpeg, quality: 80}
  - {name: writer, kind: writer, params: {root: )" +
           out + R"(}}
routes:
  - {from: fetcher, to: thumbnails}
  - {from: thumbnails, to: writer}
workload:
  entry: fetcher
  request: fetch
  generate:
    count: 40
    fields: {url: "${origin.url}/img-{i%10}.jpg", raise_for_status: true}
  context: {output: "t{i}.jpg"}
  concurrency: 8
)";
  };
  write_text(dir + "/local.yaml", topology("", "", "local"));
  write_text(dir + "/split.yaml", topology("nodes:\n  - {name: side, address: \"127.0.0.1:" +
                                               std::to_string(lbtest::closed_port()) + "\"}\n",
                                           "\n    node: side", "split"));
  ::setenv("LOOPBRIDGE_NODE_SECRET", "the-run-test-secret-0123456789", 1);
  child_process node{cli, {"node", "--node", "side", "split.yaml"}, dir};
  REQUIRE(lbtest::eventually([&] { return node.out().find("serving") != std::string::npos; }, 30s));
  child_process local{cli, {"run", "local.yaml", "--quiet"}, dir};
  REQUIRE(local.wait(120s) == 0);
  child_process split{cli, {"run", "split.yaml", "--quiet"}, dir};
  auto code = split.wait(120s);
  ::unsetenv("LOOPBRIDGE_NODE_SECRET");
  INFO(split.out() << split.err() << "\nnode: " << node.out() << node.err());
  REQUIRE(code == 0);
  CHECK(split.out().find("succeeded 40, failed 0") != std::string::npos);
  // The node's own line: all 40 thumbnails went there and came back.
  CHECK(split.out().find("node side (127.0.0.1:") != std::string::npos);
  CHECK(split.out().find("): up, 40 sent, 40 answered, 0 lost with it, 1 connect, 0 losses") !=
        std::string::npos);
  auto names = files_in(dir + "/local");
  REQUIRE(names.size() == 40);
  CHECK(files_in(dir + "/split").size() == 40);
  for (auto& n : names) // the same decoder and encoder ran there: the same bytes
    CHECK(lbtest::slurp(dir + "/local/" + n) == lbtest::slurp(dir + "/split/" + n));
  node.signal(SIGTERM);
  CHECK(node.wait(30s) == 0);
}

TEST_CASE("Ctrl-C once: the run stops gracefully, still prints the summary, exits 130",
          "[cli][demo][signals]") {
  lbtest::temp_dir scratch{"loopbridge-sigint"};
  auto dir = scratch.path();
  child_process demo{cli,
                     // 8 in flight: the drain fits the 10 s budget even under sanitizers
                     {"demo", "--count", "1000000", "--concurrency", "8", "--images",
                      shared_images(), "--json", "s.json", "--progress-interval", "50"},
                     dir};
  REQUIRE(wait_for_progress(demo, 20, 120s));
  demo.signal(SIGINT);
  auto code = demo.wait(20s); // within the shutdown budget (10 s) and some
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  CHECK_FALSE(demo.signalled()); // it exited with 130 itself, after its summary
  CHECK_FALSE(demo.alive());
  auto out = demo.out();
  INFO(out << demo.err());
  CHECK(demo.err().find("stopping: finishing what is in flight") != std::string::npos);
  CHECK(out.find("interrupted: stopped early") != std::string::npos);
  auto json = lbtest::slurp(dir + "/s.json");
  CHECK(json.find("\"interrupted\": true") != std::string::npos);
  // Graceful: what was sent completed (the pipeline drained), and every success is a file.
  auto succeeded = json_int(json, "succeeded");
  CHECK(succeeded >= 20);
  CHECK(json_int(json, "failed") == 0);
  CHECK(json_int(json, "submitted") == succeeded);
  CHECK(static_cast<long long>(files_in(dir + "/out").size()) == succeeded);
}

TEST_CASE("Ctrl-C while the demo makes its images is handled too, not a default kill",
          "[cli][demo][signals]") {
  lbtest::temp_dir scratch{"loopbridge-sigint-early"};
  auto dir = scratch.path();
  // A new image directory: the demo generates the images first, on libvips threads.
  child_process demo{cli, {"demo", "--count", "50", "--images", dir + "/images"}, dir};
  REQUIRE(lbtest::eventually([&] { return !files_in(dir + "/images").empty(); }, 60s));
  demo.signal(SIGINT);
  auto code = demo.wait(30s);
  REQUIRE(code.has_value());
  INFO(demo.out() << demo.err());
  CHECK(*code == 130);
  CHECK_FALSE(demo.signalled());
  CHECK(demo.out().find("interrupted: stopped early") != std::string::npos);
}

TEST_CASE("Ctrl-C twice: everything is cancelled and the process exits 130 within 1 s",
          "[cli][demo][signals]") {
  lbtest::temp_dir scratch{"loopbridge-sigint2"};
  auto dir = scratch.path();
  // Slow thumbnails (a blur on big images) so the graceful stop is still draining when the
  // second Ctrl-C arrives.
  child_process demo{cli,
                     {"demo", "--count", "1000000", "--images", shared_images(), "--size", "2048",
                      "--concurrency", "256", "--progress-interval", "50"},
                     dir};
  REQUIRE(wait_for_progress(demo, 1, 120s));
  demo.signal(SIGINT);
  REQUIRE(lbtest::eventually(
      [&] { return demo.err().find("stopping:") != std::string::npos || !demo.alive(); }, 10s));
  auto second = std::chrono::steady_clock::now();
  demo.signal(SIGINT);
  auto code = demo.wait(5s);
  auto took = std::chrono::steady_clock::now() - second;
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  CHECK(took < 1s);
  CHECK_FALSE(demo.signalled());
  CHECK_FALSE(demo.alive());
  CHECK(demo.err().find("cancelled: exiting now") != std::string::npos); // not a finished drain
}

TEST_CASE("run and demo: bad arguments and unusable topologies exit 2 with a clear message",
          "[cli][demo]") {
  lbtest::temp_dir scratch{"loopbridge-args"};
  auto dir = scratch.path();
  auto run = [&](std::vector<std::string> args) {
    child_process c{cli, args, dir};
    auto code = c.wait(30s);
    return std::make_tuple(code.value_or(-1), c.out(), c.err());
  };
  {
    auto [code, out, err] = run({"run"});
    CHECK(code == 2);
    CHECK(err.find("missing the topology file") != std::string::npos);
  }
  {
    auto [code, out, err] = run({"demo", "--count", "x"});
    CHECK(code == 2);
    CHECK(err.find("--count: expected a number from 1 to 100000000, got 'x'") != std::string::npos);
  }
  {
    auto [code, out, err] = run({"demo", "--colour", "red"});
    CHECK(code == 2);
    CHECK(err.find("unknown option '--colour'") != std::string::npos);
  }
  {
    write_text(dir + "/typo.yaml", "actors:\n  - name: a\n    kind: echoo\n");
    auto [code, out, err] = run({"run", "typo.yaml"});
    CHECK(code == 2);
    CHECK(err.find("typo.yaml:3:11: actors[0].kind: unknown kind 'echoo'") != std::string::npos);
  }
  {
    write_text(dir + "/idle.yaml", "actors:\n  - {name: a, kind: echo}\n");
    auto [code, out, err] = run({"run", "idle.yaml"});
    CHECK(code == 2);
    CHECK(err.find("declares no workload") != std::string::npos);
  }
  {
    write_text(dir + "/nostart.yaml", "actors:\n  - {name: a, kind: echo, params: {fail_start: "
                                      "no disk}}\nworkload: {entry: a, request: echo, requests: "
                                      "[{payload: 1}]}\n");
    auto [code, out, err] = run({"run", "nostart.yaml"});
    CHECK(code == 2);
    CHECK(err.find("cannot start") != std::string::npos);
    CHECK(err.find("no disk") != std::string::npos);
  }
  for (auto cmd : {"run", "demo"}) {
    auto [code, out, err] = run({cmd, "--help"});
    CHECK(code == 0);
    CHECK(out.find(std::string{"usage: loopbridge "} + cmd) != std::string::npos);
    CHECK(out.find("--json FILE") != std::string::npos);
  }
  {
    auto [code, out, err] = run({"demo", "--topology"});
    CHECK(code == 0);
    CHECK(out.find("kind: image_processor") != std::string::npos);
  }
}
