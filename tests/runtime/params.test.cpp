// Parameter declarations as plain data: validation, normalisation, durations, sizes, hints.
#include <catch2/catch.hpp>

#include "loopbridge/params.hpp"

using namespace loopbridge;
using namespace std::chrono_literals;

namespace {
std::vector<param_decl> decls() {
  using d = param_decl;
  return {
      d::duration("delay", 0ns, "delay").range(0, 60),
      d::integer("count", 1, "count").range(1, 100),
      d::number("ratio", 0, "ratio").range(0, 1).no_default(),
      d::string("mode", "fast", "mode").one_of({"fast", "slow"}),
      d::string_list("schemes", {}, "schemes").one_of({"http", "https"}).no_default(),
      d::size("max_body", 1024, "max body").at_least(0),
      d::string("root", "", "root").mandatory(),
  };
}
} // namespace

TEST_CASE("valid params are normalised and defaults filled in", "[params]") {
  params p;
  auto problems = resolve_params(decls(),
                                 value{{"delay", "250ms"},
                                       {"ratio", 1},
                                       {"root", "/srv"},
                                       {"max_body", "64KiB"},
                                       {"schemes", value::list{"https"}}},
                                 p);
  REQUIRE(problems.empty());
  CHECK(p.duration("delay") == 250ms);
  CHECK(p.integer("count") == 1);
  CHECK(p.number("ratio") == 1.0);
  CHECK(p.string("mode") == "fast");
  CHECK(p.integer("max_body") == 65536);
  CHECK(p.string_list("schemes") == std::vector<std::string>{"https"});
  CHECK(p.string("root") == "/srv");
}

TEST_CASE("every problem is reported, each with its path and a hint", "[params]") {
  params p;
  auto problems = resolve_params(decls(),
                                 value{{"dealy", "1s"},
                                       {"count", 0},
                                       {"ratio", "half"},
                                       {"mode", "slwo"},
                                       {"schemes", value::list{"ftp", 3}},
                                       {"max_body", "-5"}},
                                 p);
  std::map<std::string, param_problem> by_path;
  for (auto& pr : problems)
    by_path[pr.path] = pr;
  REQUIRE(by_path.count("dealy"));
  CHECK(by_path["dealy"].message == "unknown parameter");
  CHECK(by_path["dealy"].hint == "did you mean 'delay'?");
  CHECK(by_path["count"].message == "value 0 is out of range");
  CHECK(by_path["count"].hint == "allowed range: 1 to 100");
  CHECK(by_path["ratio"].message == "expected a number, got string \"half\"");
  CHECK(by_path["mode"].message == "'slwo' is not allowed");
  CHECK(by_path["mode"].hint == "did you mean 'slow'?");
  CHECK(by_path["schemes[0]"].message == "'ftp' is not allowed");
  CHECK(by_path["schemes[1]"].message == "expected a string, got integer 3");
  CHECK(by_path["max_body"].message.find("expected a size") == 0);
  CHECK(by_path["root"].message == "missing required parameter");
  CHECK(problems.size() == 8);
}

TEST_CASE("durations parse with units and reject nonsense", "[params]") {
  CHECK(parse_duration("0") == 0ns);
  CHECK(parse_duration("250ms") == 250ms);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("2m") == 120s);
  CHECK(parse_duration("1h") == 3600s);
  CHECK(parse_duration("10us") == 10us);
  CHECK(parse_duration(" 5s ") == 5s);
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("1.2.3s"));
  CHECK_FALSE(parse_duration("99999999999h"));
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(2s) == "2s");
  CHECK(format_duration(0ns) == "0s");
}

TEST_CASE("sizes parse with binary and decimal units", "[params]") {
  CHECK(parse_size("4096") == 4096);
  CHECK(parse_size("64KiB") == 65536);
  CHECK(parse_size("1MiB") == 1048576);
  CHECK(parse_size("2MB") == 2000000);
  CHECK_FALSE(parse_size("1.5B"));
  CHECK_FALSE(parse_size("10XB"));
}

TEST_CASE("closest_match suggests only near misses", "[params]") {
  std::vector<std::string> words{"delay", "block", "fail_every", "crash_every"};
  CHECK(closest_match("dealy", words) == "delay");
  CHECK(closest_match("crash_evry", words) == "crash_every");
  CHECK(closest_match("zzzzzz", words).empty());
  CHECK(closest_match(std::string(1000, 'a'), words).empty());
}

TEST_CASE("params that are not a map are rejected as a whole", "[params]") {
  params p;
  auto problems = resolve_params(decls(), value{value::list{1, 2}}, p);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path.empty());
  CHECK(problems[0].message == "expected a map of parameters, got list [1, 2]");
}
