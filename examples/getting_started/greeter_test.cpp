// A user's test suite: scenario files for the user's own kind, reported through Catch2.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "greeter.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/testing/catch.hpp"

TEST_CASE("the greeter's scenario passes") {
  auto kinds = loopbridge::actors::builtin_kinds();
  kinds.add<greeter>("greets people");
  auto result = loopbridge::testing::check_scenario(SCENARIO_DIR "/greeter.yaml", kinds);
  CHECK(result.steps.size() == 5); // the start and four steps
}
