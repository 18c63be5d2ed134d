#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/bytes.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/result.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// Error kinds of the image processor (`image.*`), each from the stage that failed (never
/// guessed from libvips' error text). Malformed requests (an unknown operation, a bad argument,
/// a path outside `files`) fail with `loop.bad_request`, as do operations libvips could not
/// apply.
namespace image_errc {
/// The input could not be decoded: empty, corrupt, truncated, in no image format libvips
/// knows, or an embedded ICC profile that cannot be applied. The message says what libjpeg
/// found wrong with a JPEG; libvips' own text is never quoted (see `process_image`).
inline constexpr error_code decode_failed{"image", "decode_failed"};
/// The input is in a format libvips knows but the processor does not accept (`input_formats`),
/// decided from its first bytes before decoding.
inline constexpr error_code unsupported_format{"image", "unsupported_format"};
/// The input's header announces more pixels than `max_pixels`, or a decode that would hold
/// more than `max_decode_memory` at once (decided before decoding).
inline constexpr error_code too_large{"image", "too_large"};
/// The result could not be encoded or written (the output path's directory is missing, ...).
inline constexpr error_code output_failed{"image", "output_failed"};
} // namespace image_errc

// clang-format off
/// One step of an image request's chain.
///
/// - `thumbnail`: `width` (and optionally `height`; without it, a `width` x `width` box): fit
///   inside that box; `crop`: `none`, `centre`, `attention`, `entropy` (fill the box exactly).
///   First in a chain, it shrinks while decoding (JPEG, WebP); plain JPEGs are decoded by
///   libjpeg-turbo directly (the same pixels as libvips' loader, for less CPU).
/// - `resize`: `scale` (a factor), or `width` and/or `height` (keeping the aspect ratio when
///   only one is given).
/// - `rotate`: `angle` in degrees; multiples of 90 are exact.
/// - `grayscale`.
/// - `blur`: `sigma` (Gaussian, > 0).
///
/// `kernel` (thumbnail and resize) picks the resampling filter: `lanczos3` (the default, the
/// sharpest), `lanczos2`, `mitchell`, `cubic` (Catmull-Rom, as Pillow's BICUBIC), `linear`,
/// `nearest`. A smaller kernel costs less CPU (figures in docs/benchmarks.md). A thumbnail
/// with a kernel other than the default, of pixels decoded directly, is resampled by
/// loopbridge itself (actors/src/image/resample.hpp); anything else by libvips.
// clang-format on
struct image_op {
  std::string op;
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::string crop = "none";
  double scale = 0;
  double angle = 0;
  double sigma = 0;
  /// The resampling filter of thumbnail and resize; empty: lanczos3.
  std::string kernel;

  template <class Inspector>
  friend auto inspect(Inspector& f, image_op& x) {
    return f(caf::meta::type_name("image_op"), field("op"), x.op, field("width"), x.width,
             field("height"), x.height, field("crop"), x.crop, field("scale"), x.scale,
             field("angle"), x.angle, field("sigma"), x.sigma, field("kernel"), x.kernel);
  }

  static image_op thumbnail(std::int64_t width, std::int64_t height = 0,
                            std::string crop = "none") {
    image_op o;
    o.op = "thumbnail";
    o.width = width;
    o.height = height;
    o.crop = std::move(crop);
    return o;
  }
  static image_op resize(double scale) {
    image_op o;
    o.op = "resize";
    o.scale = scale;
    return o;
  }
  static image_op rotate(double angle) {
    image_op o;
    o.op = "rotate";
    o.angle = angle;
    return o;
  }
  static image_op grayscale() {
    image_op o;
    o.op = "grayscale";
    return o;
  }
  static image_op blur(double sigma) {
    image_op o;
    o.op = "blur";
    o.sigma = sigma;
    return o;
  }
};

/// The result of an image request.
struct image_reply {
  /// The encoded result, unless it was written to `path`.
  loopbridge::bytes data;
  /// Where the result was written (the request's `output_path`), or empty.
  std::string path;
  std::int64_t width = 0;
  std::int64_t height = 0;
  /// `jpeg`, `png` or `webp`.
  std::string format;
  /// Size of the encoded result.
  std::int64_t bytes = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, image_reply& x) {
    return f(caf::meta::type_name("image_reply"), field("data"), x.data, field("path"), x.path,
             field("width"), x.width, field("height"), x.height, field("format"), x.format,
             field("bytes"), x.bytes);
  }
};

/// Decode an image, apply a chain of operations, encode the result.
///
/// Input: `input` (encoded bytes) or `input_path` (a file under the processor's `files`
/// directory). Output: bytes in the reply, or `output_path` (under `files`). `format` picks the
/// output encoding (`jpeg`, `png`, `webp`; empty: the processor's `format` param, else the
/// input's), `quality` applies to JPEG and WebP (1..100). Empty `ops`: the processor's `ops`
/// param (none by default).
struct image_request {
  using reply_type = image_reply;
  bytes input;
  std::string input_path;
  std::vector<image_op> ops;
  std::string format;
  /// 1..100; 0: the processor's `quality` param (default 80).
  std::int64_t quality = 0;
  std::string output_path;

  template <class Inspector>
  friend auto inspect(Inspector& f, image_request& x) {
    return f(caf::meta::type_name("image_request"), field("input"), x.input, field("input_path"),
             x.input_path, field("ops"), x.ops, field("format"), x.format, field("quality"),
             x.quality, field("output_path"), x.output_path);
  }
};

/// An image processor's settings: its params, resolved (see `image_processor`). The defaults
/// here are the params' declared defaults.
struct image_settings {
  std::int64_t max_pixels = 100'000'000;
  /// The most memory one decode may hold for the whole image at once, in bytes.
  std::int64_t max_decode_memory = std::int64_t{256} << 20;
  /// The input formats accepted (names from `jpeg`, `png`, `webp`, `gif`, `tiff`, `heif`).
  std::vector<std::string> input_formats = {"jpeg", "png", "webp", "gif", "tiff", "heif"};
  /// Keep an input's ICC profile (pixels unchanged) instead of converting to sRGB.
  bool keep_input_profile = false;
  /// The directory `input_path` and `output_path` are relative to; empty: paths are refused.
  std::string files;
  /// The chain for requests that give none.
  std::vector<image_op> ops;
  /// The output format for requests that give none (empty: the input's).
  std::string format;
  std::int64_t quality = 80;

  /// The settings an image processor's validated params give (see `image_processor::params`).
  static image_settings from(const loopbridge::params& p);
};

/// What an image processor instance does with one request, without a runtime: for programs
/// that drive the same pipeline from threads of their own (and the benchmark's baseline).
///
/// Blocks the calling thread for the decode, the chain and the encode. Any thread may call it
/// once libvips is started (`image_processor::init_vips`); calls on different threads run in
/// parallel, and each call's error names its own input only: libvips keeps one error buffer for
/// the whole process, so its text is never quoted. `cancelled`, if given, is polled while
/// decoding and between operations: when it returns true the result is `loop.cancelled`. Errors
/// as the image processor's: see `image_errc` and `loop.bad_request`.
result<image_reply> process_image(image_request req, const image_settings& settings,
                                  const std::function<bool()>& cancelled = {});

class image_worker;

/// The `image_processor` kind: CPU-bound image work on libvips. Each instance runs on a thread
/// of its own (long decodes never hold up the event loop or other actors) and uses one vips
/// thread: the pool (`count`, by default the number of cores plus one) provides the parallelism.
/// Bad input fails one request; the instance serves the next. An instance releases its vips thread
/// state when it stops.
///
/// Input: the formats in `input_formats` (by default JPEG, PNG, WebP, GIF, TIFF and HEIF),
/// recognised from their first bytes; any other is refused before decoding.
///
/// Colour: an input without an ICC profile is taken as sRGB (no colour work); a tagged one is
/// converted to sRGB through its profile (after a leading thumbnail's shrink), or keeps its
/// profile with `keep_input_profile`; CMYK is always converted to sRGB. Outputs carry no other
/// metadata of the input.
///
/// Memory: an instance decodes one request at a time and holds at most `max_decode_memory` for
/// whole-image buffers (estimated from the header, before decoding: a progressive JPEG's DCT
/// coefficients, 2 to 6 bytes per pixel whatever the shrink; an interlaced PNG, a WebP, GIF or
/// HEIF frame; the decoded image when an op needs all of it), plus working memory of a few
/// megabytes and the request's input and output bytes. A pool holds at most `count` times that,
/// plus the inputs of requests waiting in its mailbox.
///
/// Params: `max_pixels` (inputs announcing more are refused before decoding),
/// `max_decode_memory`, `input_formats`, `keep_input_profile`, `files` (the directory
/// `input_path` and `output_path` are relative to; empty: paths are refused), and defaults for
/// requests that leave them out: `ops` (a chain), `format`, `quality`.
struct image_processor {
  static constexpr const char* name = "image_processor";
  using requests = request_list<image_request>;
  using worker = image_worker;
  static std::vector<param_decl> params();
  static loopbridge::execution execution(const loopbridge::params&) {
    return loopbridge::execution::dedicated_thread;
  }
  /// The number of cores plus one (an instance's core idles while its request moves between
  /// its thread and libvips' worker; one more instance keeps every core busy).
  static std::uint32_t default_count();
  /// Starts libvips (once per process; later calls return at once). Spawning an image
  /// processor calls it on the spawning thread, before any instance runs. libvips' own start
  /// is not thread-safe: a program that also uses libvips directly calls this (or VIPS_INIT)
  /// before its threads use libvips. Throws `std::runtime_error` if libvips cannot start.
  /// For the whole process, it blocks every libvips loader but those of JPEG, PNG, WebP, GIF,
  /// TIFF and HEIF, and every operation libvips marks untrusted.
  /// Linking loopbridge's actors also serialises liborc's compiles and frees for every libvips
  /// call in the process (liborc 0.4.33 crashes when threads do them at once); where that
  /// cannot take effect, this turns libvips' vector code off and logs a warning.
  static void init_vips();
  /// Spawn-time checks; also starts libvips (see `init_vips`).
  static std::vector<param_problem> validate(const loopbridge::params& p);
};

class image_worker final : public loopbridge::worker {
public:
  explicit image_worker(worker_context& ctx);
  ~image_worker() override;
  void handle(image_request& req, responder<image_reply>& r);

private:
  image_settings settings_;
};

} // namespace loopbridge::actors
