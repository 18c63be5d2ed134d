// libFuzzer target: the topology loader on arbitrary bytes. It must never crash, hang, leak or
// throw, and its result must be consistent: a topology exactly when there is no problem, and
// every problem located and printed as one printable, bounded line.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loopbridge/actors/echo.hpp"
#include "loopbridge/config/loader.hpp"
#include "one_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const loopbridge::kind_registry kinds = [] {
    loopbridge::kind_registry k;
    k.add<loopbridge::actors::echo>();
    return k;
  }();
  auto r = loopbridge::config::parse(std::string_view{reinterpret_cast<const char*>(data), size},
                                     kinds, "fuzz.yaml");
  if (r.ok() == !r.problems.empty() || r.topology.has_value() != r.ok())
    __builtin_trap();
  lbfuzz::check_problems(r.problems);
  return 0;
}
