#include "image/image_pipeline.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

#include "image/decode_memory.hpp"
#include "image/image_colour.hpp"
#include "image/image_failure.hpp"
#include "image/image_ops.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors::detail {

namespace {

/// Writes `data` to `path` atomically (a temporary file, then rename). Messages call the file
/// `name` (the request's own path, not the directory it is under).
void write_atomically(const std::string& path, const std::string& name, const void* data,
                      std::size_t size) {
  auto tmp = path + ".tmp" + std::to_string(::getpid()) + "." +
             std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(image_errc::output_failed, "cannot create " + name + ": " + std::strerror(errno));
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
      fail(image_errc::output_failed, "cannot write " + name + ": " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlink(tmp.c_str());
    fail(image_errc::output_failed, "cannot write " + name + ": " + why);
  }
}

/// The encoder's call for `format`.
VipsBlob* encoded(const output_image& out, const std::string& format, int quality) {
  using vips::VImage;
  if (format == "jpeg")
    return out.image.jpegsave_buffer(VImage::option()->set("Q", quality)->set("strip", out.strip));
  if (format == "webp")
    return out.image.webpsave_buffer(VImage::option()->set("Q", quality)->set("strip", out.strip));
  return out.image.pngsave_buffer(VImage::option()->set("strip", out.strip));
}

} // namespace

image_pipeline::image_pipeline(image_job job, const image_settings& settings,
                               const std::function<bool()>& cancelled)
    : job_(std::move(job)),
      settings_(settings),
      cancelled_(cancelled),
      input_(job_.in_path.empty() ? image_input::bytes(job_.req.input)
                                  : image_input::file(job_.in_path, job_.req.input_path)) {}

image_pipeline::~image_pipeline() {
  if (whole_image_bytes_ >= release_threshold)
    release_freed_memory();
}

void image_pipeline::check_cancelled() const {
  if (cancelled_ && cancelled_())
    fail(errc::cancelled, "cancelled while processing the image");
}

vips::VImage image_pipeline::transform(loaded_image loaded) {
  auto& ops = job_.req.ops;
  auto image = std::move(loaded.image);
  // Colour management comes after a leading thumbnail (on the shrunk image), else first.
  std::size_t colour_at = job_.leading_thumbnail() ? 1 : 0;
  for (std::size_t i = loaded.ops_applied; i <= ops.size(); ++i) {
    if (i == colour_at && loaded.convert_colour)
      image = convert_colour(image);
    if (i == ops.size())
      break;
    check_cancelled(); // the answer would be discarded: stop spending CPU on it
    image = apply_op(image, i);
  }
  return watch_.watch(image, pixel_stage::transform);
}

vips::VImage image_pipeline::apply_op(const vips::VImage& image, std::size_t index) {
  auto& o = job_.req.ops[index];
  try {
    return apply(image, o);
  } catch (const vips::VError&) {
    pixels_failed("transform",
                  error{errc::bad_request, "libvips could not apply ops[" + std::to_string(index) +
                                               "] (" + o.op + ")"});
  }
}

vips::VImage image_pipeline::convert_colour(const vips::VImage& image) {
  try {
    return tagged_to_srgb(image);
  } catch (const vips::VError&) {
    pixels_failed("colour", error{image_errc::decode_failed,
                                  "cannot convert " + input_.describe() +
                                      " to sRGB through its embedded ICC profile"});
  }
}

encoded_image image_pipeline::encode(const vips::VImage& image) {
  encoded_image out;
  try {
    out.blob.reset(encoded(for_output(image, settings_.keep_input_profile), output_format_,
                           static_cast<int>(job_.req.quality)));
  } catch (const vips::VError&) {
    pixels_failed("encode", error{image_errc::output_failed,
                                  "libvips' " + output_format_ + " encoder failed on the " +
                                      std::to_string(image.width()) + "x" +
                                      std::to_string(image.height()) + " result"});
  }
  out.width = image.width();
  out.height = image.height();
  return out;
}

void image_pipeline::pixels_failed(const char* stage, const error& own) {
  if (watch_.failed(pixel_stage::load))
    decode_failed();
  log_vips_errors(stage);
  if (watch_.failed(pixel_stage::transform))
    fail(errc::bad_request, "libvips could not compute the chain's operations");
  throw image_failure{own};
}

image_reply image_pipeline::deliver(encoded_image encoded) {
  std::size_t size = 0;
  auto* bytes = static_cast<const std::uint8_t*>(vips_blob_get(encoded.blob.get(), &size));
  image_reply reply;
  reply.width = encoded.width;
  reply.height = encoded.height;
  reply.format = output_format_;
  reply.bytes = static_cast<std::int64_t>(size);
  if (job_.out_path.empty()) {
    reply.data.assign(bytes, bytes + size);
  } else {
    write_atomically(job_.out_path, "output_path " + quote(job_.req.output_path), bytes, size);
    reply.path = job_.req.output_path;
  }
  return reply;
}

} // namespace loopbridge::actors::detail
