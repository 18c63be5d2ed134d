// The load stage of an image request: identify the input's format, check what its header
// announces, decode (libjpeg-turbo directly for a plain JPEG's leading thumbnail, libvips'
// loader for everything else).
#include <algorithm>
#include <atomic>
#include <optional>

#include "image/decode_memory.hpp"
#include "image/image_colour.hpp"
#include "image/image_failure.hpp"
#include "image/image_ops.hpp"
#include "image/image_pipeline.hpp"
#include "image/jpeg_decoder.hpp"

namespace loopbridge::actors::detail {

namespace {

std::atomic<std::uint64_t> direct_decodes{0};

/// Refuses an input whose header announces more than `max_pixels`.
void check_pixels(std::int64_t width, std::int64_t height, std::int64_t max_pixels) {
  auto pixels = width * height;
  if (pixels > max_pixels)
    fail(image_errc::too_large, "the input is " + std::to_string(width) + "x" +
                                    std::to_string(height) + " (" + std::to_string(pixels) +
                                    " pixels); max_pixels is " + std::to_string(max_pixels));
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// What libjpeg objects to in a JPEG decoded strictly (a warning counts), or empty. Decodes
/// only if that holds at most `max_memory` bytes.
std::string jpeg_complaint(const image_input& input, std::int64_t max_memory) {
  try {
    auto decoder = input.open_jpeg();
    if (decoder.coefficient_bytes() + decoder.decoded_bytes(8) <=
        static_cast<std::uint64_t>(max_memory))
      (void)decoder.decode(8, {});
    return decoder.header_warning();
  } catch (const jpeg_error& e) {
    return e.what();
  }
}

} // namespace

std::uint64_t direct_jpeg_decodes() noexcept {
  return direct_decodes.load(std::memory_order_relaxed);
}

loaded_image image_pipeline::load() {
  format_ = input_.identify();
  if (format_.loader.empty())
    fail(image_errc::decode_failed,
         "cannot decode " + input_.describe() + ": it is in no image format libvips knows");
  auto& accepted = settings_.input_formats;
  if (!format_.acceptable ||
      std::find(accepted.begin(), accepted.end(), format_.name) == accepted.end())
    fail(image_errc::unsupported_format, input_.describe() + " is " + format_.name +
                                             ", which this image_processor does not accept "
                                             "(input_formats: " +
                                             joined(accepted) + ")");
  output_format_ = job_.format;
  if (output_format_.empty())
    output_format_ =
        canonical_format(format_.name).empty() ? "png" : canonical_format(format_.name);
  std::uint64_t coefficients = 0;
  if (format_.name == "jpeg") {
    auto jpeg = decode_jpeg();
    if (jpeg.loaded)
      return std::move(*jpeg.loaded);
    coefficients = jpeg.coefficients;
    supply_jpeg_end_marker();
  }
  return load_with_libvips(coefficients);
}

/// libvips' loader fails (`fail_on=error`) where a JPEG's data runs out, even when all that is
/// missing is the end marker. A single-scan JPEG that libjpeg decodes in full without it (see
/// `jpeg_decoder::decode`) goes to libvips with the marker appended; anything else goes as it is
/// (a cut-short scan still fails).
void image_pipeline::supply_jpeg_end_marker() {
  const std::vector<std::uint8_t> end_marker = {0xFF, 0xD9};
  if (!jpeg_refusal_.empty() || input_.ends_with(end_marker))
    return;
  try {
    auto decoder = input_.open_jpeg();
    if (!decoder.single_scan() ||
        decoder.decoded_bytes(8) > static_cast<std::uint64_t>(settings_.max_decode_memory))
      return;
    (void)decoder.decode(8, cancelled_);
    if (!decoder.end_marker_missing())
      return;
  } catch (const jpeg_error& e) {
    jpeg_refusal_ = e.what();
    return;
  }
  completed_ = input_.with(end_marker);
  input_ = input_.over(completed_);
  format_ = input_.identify(); // its buffer loader, for a file
}

/// A leading thumbnail of a plain JPEG (see `jpeg_decoder::plain`) is decoded by libjpeg-turbo
/// on this thread with the shrink libvips would choose; the transform stage then applies the
/// same `thumbnail_image`: libvips' own pixels for about a fifth less CPU. Whatever libjpeg
/// refuses (extraneous bytes before a marker, corrupt data, ...) goes to libvips' loader, which
/// is more lenient. The header check (`max_pixels`) is made here for every JPEG.
image_pipeline::jpeg_attempt image_pipeline::decode_jpeg() {
  jpeg_attempt attempt;
  std::optional<jpeg_decoder> opened;
  try {
    opened.emplace(input_.open_jpeg());
  } catch (const jpeg_error& e) {
    jpeg_refusal_ = e.what();
    return attempt;
  }
  auto& decoder = *opened;
  check_pixels(decoder.width(), decoder.height(), settings_.max_pixels);
  attempt.coefficients = decoder.coefficient_bytes();
  auto& ops = job_.req.ops;
  if (!job_.leading_thumbnail() || !decoder.plain())
    return attempt;
  auto shrink = thumbnail_jpeg_shrink(
      decoder.width(), decoder.height(), static_cast<int>(ops[0].width),
      static_cast<int>(ops[0].height), crop_mode(ops[0].crop) != VIPS_INTERESTING_NONE);
  // The decoded image is held whole: if it and the coefficients do not fit the budget,
  // libvips' loader streams the rows instead.
  auto need = attempt.coefficients + decoder.decoded_bytes(shrink);
  if (need > static_cast<std::uint64_t>(settings_.max_decode_memory))
    return attempt;
  whole_image_bytes_ = need;
  vips::VImage image;
  try {
    image = decoder.decode(shrink, cancelled_);
  } catch (const jpeg_error& e) {
    jpeg_refusal_ = e.what();
    return attempt;
  }
  if (image.get_image() == nullptr) // `cancelled_` said so
    fail(errc::cancelled, "cancelled while processing the image");
  attempt.loaded = loaded_image{image, 0, !settings_.keep_input_profile && colour_of(image).tagged};
  direct_decodes.fetch_add(1, std::memory_order_relaxed);
  return attempt;
}

/// libvips' loader. The header only, first: refuse oversized inputs before any pixel is
/// decoded. Decoding is sequential (top to bottom, little memory) unless an operation needs
/// the whole image. A leading thumbnail with libvips' kernel uses libvips' thumbnail, which
/// shrinks while decoding (JPEG, WebP, HEIF); one with its own kernel is resampled by the
/// transform stage after the image is turned upright (which needs random access). CMYK is
/// converted to sRGB here, before any op sees the pixels.
loaded_image image_pipeline::load_with_libvips(std::uint64_t jpeg_coefficients) {
  using vips::VImage;
  auto& ops = job_.req.ops;
  bool own_thumbnail = job_.leading_thumbnail() && custom_kernel(ops[0]);
  bool random_access = own_thumbnail || std::any_of(ops.begin(), ops.end(), needs_random_access);
  VImage header;
  try {
    header = input_.load(
        format_, VImage::option()
                     ->set("access", random_access ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL)
                     ->set("fail_on", VIPS_FAIL_ON_ERROR));
  } catch (const vips::VError&) {
    decode_failed();
  }
  check_pixels(header.width(), header.height(), settings_.max_pixels);
  auto head = format_.name == "png" ? input_.head(29) : std::vector<std::uint8_t>{};
  auto need = loader_memory(format_.name, header, jpeg_coefficients,
                            png_interlaced(head.data(), head.size()), random_access);
  check_decode_memory(need, settings_.max_decode_memory);
  whole_image_bytes_ = need.bytes;
  auto colour = colour_of(header);
  bool convert = !settings_.keep_input_profile && colour.tagged;
  try {
    if (job_.leading_thumbnail() && !own_thumbnail && !colour.cmyk) {
      header = VImage{}; // the thumbnail loads the input again, shrinking while decoding
      auto thumb = input_.thumbnail(static_cast<int>(ops[0].width), thumbnail_options(ops[0]));
      return {watch_.watch(thumb, pixel_stage::load), 1, convert};
    }
    auto image = colour.cmyk ? cmyk_to_srgb(header) : header;
    if (own_thumbnail)
      image = image.autorot();
    return {watch_.watch(image, pixel_stage::load), 0, convert};
  } catch (const vips::VError&) {
    decode_failed();
  }
}

void image_pipeline::decode_failed() {
  log_vips_errors("load");
  auto why = jpeg_refusal_;
  if (why.empty() && format_.name == "jpeg")
    why = jpeg_complaint(input_, settings_.max_decode_memory);
  if (why.empty())
    why = "libvips' " + format_.name +
          " decoder failed on it (corrupt or truncated data, or a feature it lacks)";
  fail(image_errc::decode_failed, "cannot decode " + input_.describe() + ": " + why);
}

} // namespace loopbridge::actors::detail
