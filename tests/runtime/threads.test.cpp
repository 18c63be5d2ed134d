// Threads the runtime creates carry readable names; logs have levels and are quiet by default.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fstream>
#include <set>

#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {
std::set<std::string> thread_names() {
  std::set<std::string> names;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir)) {
      if (e->d_name[0] == '.')
        continue;
      std::ifstream comm{std::string{"/proc/self/task/"} + e->d_name + "/comm"};
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    closedir(dir);
  }
  return names;
}
} // namespace

TEST_CASE("runtime threads are named", "[threads]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto h = lbtest::spawn_echo(rt, "sleepy", {{"dedicated", true}});
  REQUIRE(h.call(echo_request{1}, 5s).ok());
  // Scheduler threads name themselves as they start: wait for that, with a deadline.
  auto all_named = [] {
    auto names = thread_names();
    return names.count("lb.loop") == 1 && names.count("lb.sched.0") == 1 &&
           names.count("lb.clock") == 1 && names.count("lb.sleepy.0") == 1;
  };
  CHECK(lbtest::eventually(all_named));
}

TEST_CASE("stopping the runtime joins every thread it started", "[threads]") {
  auto before = thread_names();
  {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    auto h = lbtest::spawn_echo(rt, "sleepy", {{"dedicated", true}});
    REQUIRE(h.call(echo_request{1}, 5s).ok());
  }
  auto after = thread_names();
  for (auto& n : after)
    CHECK((before.count(n) == 1 || n.rfind("lb.", 0) != 0));
}

TEST_CASE("log levels parse and default to warning", "[log]") {
  log_level l;
  REQUIRE(parse_log_level("debug", l));
  CHECK(l == log_level::debug);
  CHECK_FALSE(parse_log_level("loud", l));
  CHECK(std::string{to_string(log_level::warning)} == "warning");
}
