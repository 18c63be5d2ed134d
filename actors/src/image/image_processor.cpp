#include "loopbridge/actors/image_processor.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include <vips/vips8>
// after vips8, which it needs
#include <vips/vector.h>

#include "loopbridge/convert.hpp"
#include "loopbridge/log.hpp"

#include "image/image_failure.hpp"
#include "image/image_formats.hpp"
#include "image/image_ops.hpp"
#include "image/image_pipeline.hpp"
#include "image/orc_serialiser.hpp"

namespace loopbridge::actors {

/// libvips is initialised once per process and never shut down (it cannot start again). Each
/// instance uses one vips thread: the pool gives the parallelism. The operation cache is off:
/// a pool's instances rarely repeat an operation, and it would hold decoded images.
void image_processor::init_vips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("loopbridge") != 0)
      throw std::runtime_error(std::string{"libvips failed to start: "} + vips_error_buffer());
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    // Network input reaches the loaders: only those of the acceptable formats may run.
    detail::block_other_loaders();
    // liborc's code memory is not thread-safe: loopbridge serialises libvips' compiles and
    // frees (orc_serialiser.cpp). Where that cannot take effect, libvips runs its C code.
    if (!detail::orc_calls_serialised()) {
      vips_vector_set_enabled(FALSE);
      LB_LOG(warning, "image",
             "liborc calls could not be serialised: libvips runs without vector code (slower)");
    }
    // libvips reports per-tile trouble (a truncated input) as GLib warnings on stderr; the
    // request already fails with the reason, so they go to loopbridge's log at debug level.
    g_log_set_handler(
        "VIPS",
        static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          LB_LOG(debug, "image", "libvips: " << message);
        },
        nullptr);
  });
}

std::vector<param_decl> image_processor::params() {
  using d = param_decl;
  const image_settings defaults;
  return {
      d::integer("max_pixels", defaults.max_pixels,
                 "inputs whose header announces more pixels are refused before decoding")
          .range(1, 1e12),
      d::size("max_decode_memory", defaults.max_decode_memory,
              "the most memory one decode may hold for the whole image at once (progressive "
              "JPEG coefficients, whole frames); inputs whose header shows they need more are "
              "refused before decoding")
          .at_least(0),
      d::string_list("input_formats", defaults.input_formats,
                     "input formats accepted; any other is image.unsupported_format before "
                     "decoding (heif: where libvips has a HEIF loader)")
          .one_of(detail::acceptable_input_formats()),
      d::boolean("keep_input_profile", defaults.keep_input_profile,
                 "keep an input's ICC profile in the output, pixels unchanged; false: convert "
                 "tagged input to sRGB (CMYK input is converted either way)"),
      d::string("files", defaults.files,
                "directory that input_path and output_path are relative to; empty: paths are "
                "refused"),
      d::any("ops", "the chain applied to requests that give no ops (a list of op maps, e.g. "
                    "[{op: thumbnail, width: 256}])"),
      d::string("format", defaults.format,
                "output format of requests that give none (jpeg, png, webp)")
          .one_of({"", "jpeg", "png", "webp"}),
      d::integer("quality", defaults.quality, "JPEG/WebP quality of requests that give none")
          .range(1, 100),
  };
}

namespace {

/// The `ops` param as a chain, and its problems (with their paths).
struct default_chain {
  std::vector<image_op> ops;
  std::vector<field_problem> problems;
};

default_chain default_ops(const loopbridge::params& p) {
  default_chain chain;
  if (auto* v = p.find("ops"); v && !v->is_null())
    from_value(*v, chain.ops, "ops", chain.problems);
  return chain;
}

} // namespace

std::vector<param_problem> image_processor::validate(const loopbridge::params& p) {
  std::vector<param_problem> problems;
  try {
    init_vips();
  } catch (const std::exception& e) {
    problems.push_back({"", e.what(), "is libvips installed?"});
  }
  if (p.has("input_formats") && p.string_list("input_formats").empty())
    problems.push_back({"input_formats", "no input format is accepted", "list at least one"});
  auto chain = default_ops(p);
  for (auto& f : chain.problems)
    problems.push_back({f.path, f.message, f.hint});
  if (chain.problems.empty()) {
    try {
      detail::check_ops(chain.ops);
    } catch (const detail::image_failure& f) {
      problems.push_back({"ops", f.e.message(), ""});
    }
  }
  return problems;
}

std::uint32_t image_processor::default_count() {
  // One more instance than cores: an instance's core idles at each hand-off between its thread
  // and libvips' worker (decode, then the resampling and encoding pipeline); the extra one
  // fills most of those gaps (bench/images shows the difference).
  return std::max(1u, std::thread::hardware_concurrency()) + 1;
}

image_settings image_settings::from(const loopbridge::params& p) {
  // Every param has a declared default (`image_processor::params`), so each is present.
  image_settings s;
  s.max_pixels = p.integer("max_pixels", s.max_pixels);
  s.max_decode_memory = p.integer("max_decode_memory", s.max_decode_memory);
  if (p.has("input_formats"))
    s.input_formats = p.string_list("input_formats");
  s.keep_input_profile = p.boolean("keep_input_profile", s.keep_input_profile);
  s.files = p.string("files", s.files);
  while (s.files.size() > 1 && s.files.back() == '/')
    s.files.pop_back();
  s.format = p.string("format", s.format);
  s.quality = p.integer("quality", s.quality);
  s.ops = default_ops(p).ops; // its problems were reported at spawn (validate)
  return s;
}

image_worker::image_worker(worker_context& ctx) : settings_(image_settings::from(ctx.params())) {
  image_processor::init_vips();
}

image_worker::~image_worker() {
  // This instance's thread is done with vips: free its per-thread buffers.
  vips_thread_shutdown();
}

void image_worker::handle(image_request& req, responder<image_reply>& r) {
  auto out = process_image(std::move(req), settings_, [&r] { return r.cancelled(); });
  if (out.ok())
    r.reply(std::move(*out));
  else
    r.fail(std::move(out).error());
}

result<image_reply> process_image(image_request req, const image_settings& settings,
                                  const std::function<bool()>& cancelled) {
  try {
    // The pipeline outlives every image its stages make (declared first, destroyed last).
    detail::image_pipeline pipeline{detail::image_job::prepare(std::move(req), settings), settings,
                                    cancelled};
    auto loaded = pipeline.load();
    auto image = pipeline.transform(std::move(loaded));
    auto encoded = pipeline.encode(image);
    return pipeline.deliver(std::move(encoded));
  } catch (const detail::image_failure& f) {
    return f.e;
  } catch (const detail::jpeg_error& e) { // libjpeg could not even start (out of memory)
    return error{image_errc::decode_failed, std::string{"cannot decode the input: "} + e.what()};
  } catch (const std::bad_alloc&) { // an image within the limits that memory cannot hold
    return error{image_errc::decode_failed, "not enough memory to process the image"};
  }
}

} // namespace loopbridge::actors
