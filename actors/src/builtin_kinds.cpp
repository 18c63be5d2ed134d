#include "loopbridge/actors/builtin_kinds.hpp"

#include "loopbridge/actors/blocking.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/actors/image_processor.hpp"
#include "loopbridge/actors/writer.hpp"
#include "loopbridge/context.hpp"

namespace loopbridge::actors {

kind_registry& register_builtin_kinds(kind_registry& registry) {
  registry.add<blocking>("a blocking pool: runs offloaded functions on threads of its own");
  registry.add<echo>("replies with its request; for tests, benchmarks and scenarios");
  registry.add<fetcher>("holds one HTTP session (keep-alive pool, DNS cache, cookies) and fetches "
                        "URLs over it, thousands in flight on one I/O thread");
  registry.add<http_origin>("an HTTP server over a directory, with injectable faults; for tests, "
                            "benchmarks and the demo");
  registry.add<image_processor>("decodes, transforms and encodes images with libvips; one "
                                "instance per core, plus one, by default");
  registry.add<writer>("writes bytes to files under a directory; refuses paths that escape it");
  // An echo stage passes its payload on to the next echo stage.
  registry.adapt<echo_reply, echo_request>(
      [](echo_reply&& r) { return echo_request{std::move(r.payload)}; });
  // A fetched body goes to an image processor (which applies its `ops` param); a body that is
  // not a success is not an image.
  registry.adapt<fetch_reply, image_request>([](fetch_reply&& r) -> result<image_request> {
    if (r.status < 200 || r.status > 299)
      return error{fetch_errc::http_status,
                   "HTTP " + std::to_string(r.status) + " from " + r.effective_url};
    image_request req;
    req.input = std::move(r.body);
    return req;
  });
  // An encoded image goes to a writer, under the name the request's context gives as `output`.
  registry.adapt<image_reply, write_request>(
      [](image_reply&& r, const context& ctx) -> result<write_request> {
        auto* out = ctx.find("output");
        if (!out || !out->is_string() || out->as_string().empty())
          return error{errc::bad_request,
                       "the request's context has no 'output' naming the file to write"};
        write_request w;
        w.path = out->as_string();
        w.data = std::move(r.data);
        return w;
      });
  return registry;
}

kind_registry builtin_kinds() {
  kind_registry r;
  register_builtin_kinds(r);
  return r;
}

} // namespace loopbridge::actors
