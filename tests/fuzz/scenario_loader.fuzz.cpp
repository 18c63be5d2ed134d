// libFuzzer target: the scenario loader on arbitrary bytes, with every built-in kind. It must
// never crash, hang, leak or throw; it yields a scenario exactly when there is no problem, and
// every problem is located and printed as one printable, bounded line.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/config/scenario.hpp"
#include "one_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const loopbridge::kind_registry kinds = loopbridge::actors::builtin_kinds();
  auto r = loopbridge::config::parse_scenario(
      std::string_view{reinterpret_cast<const char*>(data), size}, kinds,
      LOOPBRIDGE_SCENARIOS_DIR "/fuzz.yaml");
  if (r.ok() == !r.problems.empty() || r.scenario.has_value() != r.ok())
    __builtin_trap();
  lbfuzz::check_problems(r.problems);
  return 0;
}
