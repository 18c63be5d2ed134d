// The writer kind: files land under its root, atomically; paths that escape are refused.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "loopbridge/actors/writer.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

lbtest::temp_dir scratch_dir() {
  return lbtest::temp_dir{"loopbridge-writer"};
}

using lbtest::slurp;

write_request req(std::string path, std::string text, bool overwrite = true) {
  return write_request{std::move(path), bytes(text.begin(), text.end()), overwrite};
}

} // namespace

TEST_CASE("the writer writes files under its root, creating directories", "[writer]") {
  auto dir = scratch_dir();
  auto root = dir.path() + "/out";
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("w", "writer", {{"root", root}}).ok());
  auto w = rt.actor<writer>("w").value();
  auto r = w.call(req("thumbs/a/1.jpg", "hello"), 5s);
  REQUIRE(r.ok());
  CHECK(r->path == "thumbs/a/1.jpg");
  CHECK(r->bytes == 5);
  CHECK(slurp(root + "/thumbs/a/1.jpg") == "hello");
  REQUIRE(w.call(req("thumbs/a/1.jpg", "again"), 5s).ok());
  CHECK(slurp(root + "/thumbs/a/1.jpg") == "again"); // replaced
  CHECK(w.call(req("thumbs/a/1.jpg", "no", false), 5s).is(write_errc::exists));
}

TEST_CASE("the writer refuses paths that escape its root", "[writer]") {
  auto dir = scratch_dir();
  auto base = dir.path();
  auto root = base + "/root";
  ::mkdir(root.c_str(), 0755);
  ::mkdir((base + "/outside").c_str(), 0755);
  REQUIRE(::symlink((base + "/outside").c_str(), (root + "/link").c_str()) == 0);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("w", "writer", {{"root", root}}).ok());
  auto w = rt.actor<writer>("w").value();
  for (auto bad : {"../escape.txt", "a/../../escape.txt", "/etc/passwd", "link/escape.txt", "",
                   "link", "./"}) {
    INFO(bad);
    auto r = w.call(req(bad, "x"), 5s);
    CHECK(r.is(write_errc::path_escape));
  }
  struct stat st {};
  CHECK(::stat((base + "/outside/escape.txt").c_str(), &st) != 0); // nothing got out
  CHECK(::stat((base + "/escape.txt").c_str(), &st) != 0);
  CHECK(w.call(req("./inside/ok.txt", "fine"), 5s).ok());
  CHECK(slurp(root + "/inside/ok.txt") == "fine");
}

TEST_CASE("a writer whose root cannot be created fails its start", "[writer]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("w", "writer", {{"root", "/proc/loopbridge-cannot/x"}}).ok());
  auto r = rt.actor<writer>("w")->call(req("a", "b"), 5s);
  CHECK(r.is(errc::start_failed));
  CHECK(rt.spawn("w2", "writer", {}).error().message() ==
        "actor 'w2': params.root: missing required parameter (the directory every path is "
        "relative to)");
}
