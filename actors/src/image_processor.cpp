#include "loopbridge/actors/image_processor.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>
#include <unistd.h>

#include <vips/vips8>
// after vips8, which it needs
#include <vips/vector.h>

#include "loopbridge/convert.hpp"
#include "loopbridge/log.hpp"

#include "jpeg_decoder.hpp"
#include "orc_serialiser.hpp"

namespace loopbridge::actors {

namespace {

/// libvips is initialised once per process and never shut down (it cannot start again). Each
/// instance uses one vips thread: the pool gives the parallelism. The operation cache is off:
/// a pool's instances rarely repeat an operation, and it would hold decoded images.
void vips_once() {
  image_processor::init_vips();
}

} // namespace

void image_processor::init_vips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("loopbridge") != 0)
      throw std::runtime_error(std::string{"libvips failed to start: "} + vips_error_buffer());
    vips_concurrency_set(1);
    vips_cache_set_max(0);
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

namespace {

/// A failed request: its error kind and message (thrown inside the handler, caught in it).
struct image_failure {
  error e;
};

[[noreturn]] void refuse(std::string msg) {
  throw image_failure{error{errc::bad_request, std::move(msg)}};
}

/// The vips error text, cleared for the next request.
std::string vips_text(const vips::VError& e) {
  std::string s = e.what();
  vips_error_clear();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  for (auto& c : s)
    if (c == '\n')
      c = ' ';
  return s;
}

/// A failure while the pixels were computed and encoded: the decoder (a truncated or corrupt
/// input shows only now, since decoding is lazy) or the encoder. libvips names the operation
/// that failed at the start of its message (`jpegload_buffer: ...`, `VipsJpeg: ...`).
image_failure eval_failure(const vips::VError& e) {
  auto text = vips_text(e);
  bool decoder =
      text.find("load") != std::string::npos || text.find("VipsJpeg") != std::string::npos ||
      text.find("VipsForeignLoad") != std::string::npos ||
      text.find("premature") != std::string::npos || text.find("truncated") != std::string::npos ||
      text.find("corrupt") != std::string::npos || text.find("read") != std::string::npos;
  if (decoder)
    return image_failure{error{image_errc::decode_failed, "cannot decode the input: " + text}};
  return image_failure{error{image_errc::output_failed, "cannot encode the result: " + text}};
}

/// The output format's canonical name, from a request's `format` or a loader's name.
std::string canonical_format(const std::string& f) {
  if (f == "jpeg" || f == "jpg" || f.rfind("jpegload", 0) == 0)
    return "jpeg";
  if (f == "png" || f.rfind("pngload", 0) == 0)
    return "png";
  if (f == "webp" || f.rfind("webpload", 0) == 0)
    return "webp";
  return {};
}

VipsInteresting crop_mode(const std::string& c) {
  if (c == "none" || c.empty())
    return VIPS_INTERESTING_NONE;
  if (c == "centre" || c == "center")
    return VIPS_INTERESTING_CENTRE;
  if (c == "attention")
    return VIPS_INTERESTING_ATTENTION;
  if (c == "entropy")
    return VIPS_INTERESTING_ENTROPY;
  refuse("unknown crop '" + c + "' (none, centre, attention, entropy)");
}

/// The resampling filter named by an op's `kernel` (empty: lanczos3, libvips' default).
VipsKernel kernel_of(const std::string& k) {
  if (k.empty() || k == "lanczos3")
    return VIPS_KERNEL_LANCZOS3;
  if (k == "lanczos2")
    return VIPS_KERNEL_LANCZOS2;
  if (k == "mitchell")
    return VIPS_KERNEL_MITCHELL;
  if (k == "cubic")
    return VIPS_KERNEL_CUBIC;
  if (k == "linear")
    return VIPS_KERNEL_LINEAR;
  if (k == "nearest")
    return VIPS_KERNEL_NEAREST;
  refuse("unknown kernel '" + k + "' (lanczos3, lanczos2, mitchell, cubic, linear, nearest)");
}

/// Whether a thumbnail op asks for a filter other than libvips' thumbnail's own (lanczos3).
bool custom_kernel(const image_op& o) {
  return kernel_of(o.kernel) != VIPS_KERNEL_LANCZOS3;
}

/// Checks the arguments of every op before any work is done.
void check_ops(const std::vector<image_op>& ops) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto& o = ops[i];
    auto where = "ops[" + std::to_string(i) + "] (" + o.op + "): ";
    if (o.op == "thumbnail") {
      if (o.width <= 0 || o.width > 100000 || o.height < 0 || o.height > 100000)
        refuse(where + "width must be 1..100000 (height 0..100000)");
      crop_mode(o.crop);
    } else if (o.op == "resize") {
      if (o.scale == 0 && o.width <= 0 && o.height <= 0)
        refuse(where + "give scale, or width and/or height");
      if (o.scale < 0 || o.scale > 100 || o.width < 0 || o.height < 0 || o.width > 100000 ||
          o.height > 100000)
        refuse(where + "scale must be in (0, 100], width and height 1..100000");
    } else if (o.op == "rotate") {
      if (!std::isfinite(o.angle))
        refuse(where + "angle must be a number of degrees");
    } else if (o.op == "grayscale") {
    } else if (o.op == "blur") {
      if (!(o.sigma > 0) || o.sigma > 1000)
        refuse(where + "sigma must be in (0, 1000]");
    } else {
      refuse("ops[" + std::to_string(i) + "]: unknown operation '" + o.op +
             "' (thumbnail, resize, rotate, grayscale, blur)");
    }
    if (o.op == "thumbnail" || o.op == "resize") {
      try {
        kernel_of(o.kernel);
      } catch (const image_failure& f) {
        refuse(where + f.e.message());
      }
    } else if (!o.kernel.empty()) {
      refuse(where + "kernel applies to thumbnail and resize only");
    }
  }
}

/// Resolves `rel` under `root`: refuses absolute paths, `..` and empty names.
std::string under(const std::string& root, const std::string& rel, const char* what) {
  if (root.empty())
    refuse(std::string{what} + " given, but this image_processor has no `files` directory");
  if (rel.empty() || rel[0] == '/' || rel.find('\0') != std::string::npos)
    refuse(std::string{what} + " '" + rel + "' must be a relative path");
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto end = rel.find('/', start);
    if (rel.compare(start, end == std::string::npos ? std::string::npos : end - start, "..") == 0)
      refuse(std::string{what} + " '" + rel + "' climbs out of the files directory");
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return root + "/" + rel;
}

/// A thumbnail with a filter libvips' thumbnail does not offer: the same box arithmetic (fit
/// inside the box, or fill it and crop), then `resize` with that kernel.
vips::VImage resampled_thumbnail(vips::VImage img, const image_op& o) {
  using vips::VImage;
  double box_width = static_cast<double>(o.width);
  double box_height = static_cast<double>(o.height > 0 ? o.height : o.width);
  double horizontal = img.width() / box_width, vertical = img.height() / box_height;
  auto crop = crop_mode(o.crop);
  double shrink = crop == VIPS_INTERESTING_NONE ? std::max(horizontal, vertical)
                                                : std::min(horizontal, vertical);
  img = img.resize(1.0 / shrink, VImage::option()->set("kernel", kernel_of(o.kernel)));
  if (crop != VIPS_INTERESTING_NONE)
    img = img.smartcrop(std::min(static_cast<int>(box_width), img.width()),
                        std::min(static_cast<int>(box_height), img.height()),
                        VImage::option()->set("interesting", crop));
  return img;
}

vips::VImage apply(vips::VImage img, const image_op& o) {
  using vips::VImage;
  if (o.op == "thumbnail") {
    if (custom_kernel(o))
      return resampled_thumbnail(img, o);
    auto opts = VImage::option()->set("crop", crop_mode(o.crop));
    if (o.height > 0)
      opts->set("height", static_cast<int>(o.height));
    return img.thumbnail_image(static_cast<int>(o.width), opts);
  }
  if (o.op == "resize") {
    double h = o.scale, v = o.scale;
    if (o.scale == 0) {
      h = o.width > 0 ? static_cast<double>(o.width) / img.width() : 0;
      v = o.height > 0 ? static_cast<double>(o.height) / img.height() : 0;
      if (h == 0)
        h = v;
      if (v == 0)
        v = h;
    }
    return img.resize(h, VImage::option()->set("vscale", v)->set("kernel", kernel_of(o.kernel)));
  }
  if (o.op == "rotate") {
    auto a = std::fmod(o.angle, 360.0);
    if (a < 0)
      a += 360;
    if (a == 0)
      return img;
    if (a == 90)
      return img.rot(VIPS_ANGLE_D90);
    if (a == 180)
      return img.rot(VIPS_ANGLE_D180);
    if (a == 270)
      return img.rot(VIPS_ANGLE_D270);
    return img.rotate(a);
  }
  if (o.op == "grayscale")
    return img.colourspace(VIPS_INTERPRETATION_B_W);
  return img.gaussblur(o.sigma); // blur (checked)
}

/// Writes `data` to `path` atomically (a temporary file, then rename).
void write_atomically(const std::string& path, const void* data, std::size_t size) {
  auto tmp = path + ".tmp" + std::to_string(::getpid()) + "." +
             std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw image_failure{
        error{image_errc::output_failed, "cannot create " + path + ": " + std::strerror(errno)}};
  auto* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto why = std::string{std::strerror(errno)};
      ::close(fd);
      ::unlink(tmp.c_str());
      throw image_failure{error{image_errc::output_failed, "cannot write " + path + ": " + why}};
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlink(tmp.c_str());
    throw image_failure{error{image_errc::output_failed, "cannot write " + path + ": " + why}};
  }
}

/// A vips blob that owns nothing: it points at the request's bytes for the duration of a call.
struct borrowed_blob {
  VipsBlob* blob;
  borrowed_blob(const void* data, std::size_t size) : blob(vips_blob_new(nullptr, data, size)) {}
  ~borrowed_blob() { vips_area_unref(VIPS_AREA(blob)); }
  borrowed_blob(const borrowed_blob&) = delete;
  borrowed_blob& operator=(const borrowed_blob&) = delete;
};

/// Refuses an input whose header announces more than `max_pixels`.
void check_pixels(std::int64_t width, std::int64_t height, std::int64_t max_pixels) {
  auto pixels = width * height;
  if (pixels > max_pixels)
    throw image_failure{
        error{image_errc::too_large, "the input is " + std::to_string(width) + "x" +
                                         std::to_string(height) + " (" + std::to_string(pixels) +
                                         " pixels); max_pixels is " + std::to_string(max_pixels)}};
}

/// Frees a blob vips returned (an encoded result).
struct owned_blob {
  VipsBlob* blob;
  ~owned_blob() {
    if (blob)
      vips_area_unref(VIPS_AREA(blob));
  }
  const void* data() const {
    std::size_t n;
    return vips_blob_get(blob, &n);
  }
  std::size_t size() const {
    std::size_t n;
    vips_blob_get(blob, &n);
    return n;
  }
};

} // namespace

std::vector<param_decl> image_processor::params() {
  using d = param_decl;
  return {
      d::integer("max_pixels", 100'000'000,
                 "inputs whose header announces more pixels are refused before decoding")
          .range(1, 1e12),
      d::string("files", "",
                "directory that input_path and output_path are relative to; empty: paths are "
                "refused"),
      d::any("ops", "the chain applied to requests that give no ops (a list of op maps, e.g. "
                    "[{op: thumbnail, width: 256}])"),
      d::string("format", "", "output format of requests that give none (jpeg, png, webp)")
          .one_of({"", "jpeg", "png", "webp"}),
      d::integer("quality", 80, "JPEG/WebP quality of requests that give none").range(1, 100),
  };
}

namespace {

/// The `ops` param as a chain (problems reported with their paths).
std::vector<image_op> default_ops(const loopbridge::params& p,
                                  std::vector<field_problem>& problems) {
  std::vector<image_op> ops;
  if (auto* v = p.find("ops"); v && !v->is_null())
    from_value(*v, ops, "ops", problems);
  return ops;
}

} // namespace

std::vector<param_problem> image_processor::validate(const loopbridge::params& p) {
  std::vector<param_problem> problems;
  try {
    init_vips();
  } catch (const std::exception& e) {
    problems.push_back({"", e.what(), "is libvips installed?"});
  }
  std::vector<field_problem> fields;
  auto ops = default_ops(p, fields);
  for (auto& f : fields)
    problems.push_back({f.path, f.message, f.hint});
  if (fields.empty()) {
    try {
      check_ops(ops);
    } catch (const image_failure& f) {
      problems.push_back({"ops", f.e.message(), ""});
    }
  }
  return problems;
}

std::uint32_t image_processor::default_count() {
  // One more instance than cores: an instance's core idles at each hand-off between its thread
  // and libvips' worker (decode, then the resampling and encoding pipeline); the extra one
  // fills most of those gaps (on 2 cores: 81 -> 90 img/s in bench/images --quick pairs).
  return std::max(1u, std::thread::hardware_concurrency()) + 1;
}

image_worker::image_worker(worker_context& ctx) {
  vips_once();
  settings_.max_pixels = ctx.params().integer("max_pixels", 100'000'000);
  settings_.files = ctx.params().string("files");
  settings_.format = ctx.params().string("format");
  settings_.quality = ctx.params().integer("quality", 80);
  std::vector<field_problem> problems; // checked at spawn (validate)
  settings_.ops = default_ops(ctx.params(), problems);
  while (settings_.files.size() > 1 && settings_.files.back() == '/')
    settings_.files.pop_back();
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

namespace {

/// A leading thumbnail of a plain JPEG (see `jpeg_decoder::plain`): decoded by libjpeg-turbo on
/// this thread with the shrink libvips would choose, then the same `thumbnail_image` (lanczos3,
/// crop) — the same pixels as libvips' `thumbnail_buffer`, for about a fifth less CPU. An empty
/// image if the input is not a plain JPEG (libvips' own loader then takes it) or if
/// `cancelled` said so (then `stopped` is set). The header check (`max_pixels`) is made here
/// for JPEGs, before any pixel is decoded.
vips::VImage jpeg_thumbnail(const image_request& req, const std::string& in_path, const image_op& o,
                            std::int64_t max_pixels, const std::function<bool()>& cancelled,
                            bool& stopped) {
  using detail::jpeg_decoder;
  struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, file_closer> file;
  jpeg_decoder decoder;
  try {
    if (in_path.empty()) {
      if (!detail::looks_like_jpeg(req.input.data(), req.input.size()))
        return {};
      decoder.read_header(req.input.data(), req.input.size());
    } else {
      file.reset(std::fopen(in_path.c_str(), "rbe"));
      std::uint8_t magic[3];
      if (!file || std::fread(magic, 1, 3, file.get()) != 3 || !detail::looks_like_jpeg(magic, 3) ||
          std::fseek(file.get(), 0, SEEK_SET) != 0)
        return {}; // libvips' loader reports what is wrong with it
      decoder.read_header(file.get());
    }
  } catch (const detail::jpeg_error& e) {
    throw image_failure{
        error{image_errc::decode_failed, std::string{"cannot decode the input: "} + e.what()}};
  }
  check_pixels(decoder.width(), decoder.height(), max_pixels);
  if (!decoder.plain())
    return {};
  auto fill = crop_mode(o.crop) != VIPS_INTERESTING_NONE;
  auto shrink =
      detail::thumbnail_jpeg_shrink(decoder.width(), decoder.height(), static_cast<int>(o.width),
                                    static_cast<int>(o.height), fill);
  vips::VImage img;
  try {
    img = decoder.decode(shrink, cancelled);
  } catch (const detail::jpeg_error& e) {
    throw image_failure{
        error{image_errc::decode_failed, std::string{"cannot decode the input: "} + e.what()}};
  }
  if (img.get_image() == nullptr) {
    stopped = true;
    return {};
  }
  return apply(img, o);
}

} // namespace

result<image_reply> process_image(image_request req, const image_settings& settings,
                                  const std::function<bool()>& cancelled) {
  using vips::VImage;
  if (req.ops.empty())
    req.ops = settings.ops;
  if (req.format.empty())
    req.format = settings.format;
  if (req.quality == 0)
    req.quality = settings.quality;
  auto stop_requested = [&] { return cancelled && cancelled(); };
  const error cancelled_error{errc::cancelled, "cancelled while processing the image"};
  try {
    if (req.input.empty() == req.input_path.empty())
      refuse(req.input.empty() ? "no input: give input (bytes) or input_path"
                               : "give input or input_path, not both");
    check_ops(req.ops);
    std::string format = req.format.empty() ? std::string{} : canonical_format(req.format);
    if (!req.format.empty() && format.empty())
      refuse("unknown format '" + req.format + "' (jpeg, png, webp)");
    if (req.quality < 1 || req.quality > 100)
      refuse("quality must be 1..100");
    std::string in_path =
        req.input_path.empty() ? "" : under(settings.files, req.input_path, "input_path");
    std::string out_path =
        req.output_path.empty() ? "" : under(settings.files, req.output_path, "output_path");
    bool leading_thumbnail = !req.ops.empty() && req.ops[0].op == "thumbnail";

    // 1. A leading thumbnail of a plain JPEG: decoded directly, shrinking while decoding.
    VImage img;
    std::size_t first = 0;
    if (leading_thumbnail) {
      bool stopped = false;
      img = jpeg_thumbnail(req, in_path, req.ops[0], settings.max_pixels, cancelled, stopped);
      if (stopped)
        return cancelled_error;
      if (img.get_image() != nullptr) {
        first = 1;
        if (format.empty())
          format = "jpeg";
      }
    }

    // 2. Otherwise libvips' loader. The header only, first: refuse oversized inputs before any
    // pixel is decoded. Decoding is sequential (top to bottom, little memory) unless an
    // operation needs the whole image.
    if (img.get_image() == nullptr) {
      // A leading thumbnail with its own kernel is resampled here, after libvips' loader
      // turned the image upright (which needs random access); libvips' thumbnail, with
      // shrink-on-load, has no choice of kernel.
      bool own_thumbnail = leading_thumbnail && custom_kernel(req.ops[0]);
      bool random_access = own_thumbnail;
      for (auto& o : req.ops)
        random_access = random_access || o.op == "rotate";
      auto load_opts = [&] {
        return VImage::option()
            ->set("access", random_access ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL)
            ->set("fail_on", VIPS_FAIL_ON_ERROR);
      };
      VImage header;
      try {
        header = in_path.empty()
                     ? VImage::new_from_buffer(req.input.data(), req.input.size(), "", load_opts())
                     : VImage::new_from_file(in_path.c_str(), load_opts());
      } catch (const vips::VError& e) {
        throw image_failure{
            error{image_errc::decode_failed, "cannot decode the input: " + vips_text(e)}};
      }
      check_pixels(header.width(), header.height(), settings.max_pixels);
      if (format.empty()) {
        const char* loader = nullptr;
        if (vips_image_get_string(header.get_image(), "vips-loader", &loader) == 0 && loader)
          format = canonical_format(loader);
        if (format.empty())
          format = "png"; // another input format: a lossless default
      }
      if (own_thumbnail) {
        img = header.autorot();
      } else if (leading_thumbnail) { // shrinks while decoding (JPEG, WebP)
        auto& o = req.ops[0];
        auto opts = VImage::option()->set("crop", crop_mode(o.crop));
        if (o.height > 0)
          opts->set("height", static_cast<int>(o.height));
        header = VImage{}; // the thumbnail loads the input again, with shrink-on-load
        try {
          if (in_path.empty()) {
            borrowed_blob blob{req.input.data(), req.input.size()};
            img = VImage::thumbnail_buffer(blob.blob, static_cast<int>(o.width),
                                           opts->set("option_string", "fail_on=error"));
          } else { // loader options travel in the file name
            img = VImage::thumbnail((in_path + "[fail_on=error]").c_str(),
                                    static_cast<int>(o.width), opts);
          }
        } catch (const vips::VError& e) {
          throw image_failure{
              error{image_errc::decode_failed, "cannot decode the input: " + vips_text(e)}};
        }
        first = 1;
      } else {
        img = header;
      }
    }

    // 3. The rest of the chain.
    for (std::size_t i = first; i < req.ops.size(); ++i) {
      if (stop_requested())
        return cancelled_error; // the answer would be discarded: stop spending CPU on it
      img = apply(img, req.ops[i]);
    }

    // 4. Encode: this is where the pixels are computed (and where a truncated input shows).
    owned_blob out{nullptr};
    try {
      auto q = static_cast<int>(req.quality);
      if (format == "jpeg")
        out.blob = img.jpegsave_buffer(VImage::option()->set("Q", q)->set("strip", true));
      else if (format == "webp")
        out.blob = img.webpsave_buffer(VImage::option()->set("Q", q)->set("strip", true));
      else
        out.blob = img.pngsave_buffer(VImage::option()->set("strip", true));
    } catch (const vips::VError& e) {
      throw eval_failure(e);
    }
    image_reply reply;
    reply.width = img.width();
    reply.height = img.height();
    reply.format = format;
    reply.bytes = static_cast<std::int64_t>(out.size());
    auto* bytes = static_cast<const std::uint8_t*>(out.data());
    if (out_path.empty()) {
      reply.data.assign(bytes, bytes + out.size());
    } else {
      write_atomically(out_path, bytes, out.size());
      reply.path = req.output_path;
    }
    return reply;
  } catch (const image_failure& f) {
    vips_error_clear();
    return f.e;
  } catch (const vips::VError& e) {
    return error{errc::bad_request, "libvips refused the operation: " + vips_text(e)};
  } catch (const detail::jpeg_error& e) { // libjpeg could not even start (out of memory)
    return error{image_errc::decode_failed, std::string{"cannot decode the input: "} + e.what()};
  } catch (const std::bad_alloc&) { // an image within max_pixels that memory cannot hold
    return error{image_errc::decode_failed, "not enough memory for the decoded image"};
  }
}

} // namespace loopbridge::actors
