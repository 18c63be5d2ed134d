#include "loopbridge/actors/builtin_kinds.hpp"

#include "loopbridge/actors/echo.hpp"

namespace loopbridge::actors {

kind_registry& register_builtin_kinds(kind_registry& registry) {
  registry.add<echo>("replies with its request; for tests, benchmarks and scenarios");
  return registry;
}

kind_registry builtin_kinds() {
  kind_registry r;
  register_builtin_kinds(r);
  return r;
}

} // namespace loopbridge::actors
