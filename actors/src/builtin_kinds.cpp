#include "loopbridge/actors/builtin_kinds.hpp"

#include "loopbridge/actors/blocking.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/actors/image_processor.hpp"
#include "loopbridge/actors/writer.hpp"

namespace loopbridge::actors {

kind_registry& register_builtin_kinds(kind_registry& registry) {
  registry.add<blocking>("a blocking pool: runs offloaded functions on threads of its own");
  registry.add<echo>("replies with its request; for tests, benchmarks and scenarios");
  registry.add<fetcher>("holds one HTTP session (keep-alive pool, DNS cache, cookies) and fetches "
                        "URLs over it, thousands in flight on one I/O thread");
  registry.add<http_origin>("an HTTP server over a directory, with injectable faults; for tests, "
                            "benchmarks and the demo");
  registry.add<image_processor>("decodes, transforms and encodes images with libvips; one "
                                "instance per core by default");
  registry.add<writer>("writes bytes to files under a directory; refuses paths that escape it");
  // An echo stage passes its payload on to the next echo stage.
  registry.adapt<echo_reply, echo_request>(
      [](echo_reply&& r) { return echo_request{std::move(r.payload)}; });
  return registry;
}

kind_registry builtin_kinds() {
  kind_registry r;
  register_builtin_kinds(r);
  return r;
}

} // namespace loopbridge::actors
