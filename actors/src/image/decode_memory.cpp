#include "image/decode_memory.hpp"

#include <cstdio>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "image/image_failure.hpp"

namespace loopbridge::actors::detail {

namespace {

std::string mebibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

whole_image_memory decoded_image(const vips::VImage& header, std::uint64_t copies,
                                 const char* what) {
  return {copies * pixel_bytes(static_cast<std::uint64_t>(header.width()),
                               static_cast<std::uint64_t>(header.height()), header.bands(),
                               header.format()),
          what};
}

} // namespace

whole_image_memory& whole_image_memory::operator+=(const whole_image_memory& more) {
  if (more.bytes == 0)
    return *this;
  bytes += more.bytes;
  what = what.empty() ? more.what : what + " and " + more.what;
  return *this;
}

std::uint64_t pixel_bytes(std::uint64_t width, std::uint64_t height, int bands,
                          VipsBandFormat format) {
  return width * height * static_cast<std::uint64_t>(bands) *
         static_cast<std::uint64_t>(vips_format_sizeof(format));
}

whole_image_memory loader_memory(const std::string& format, const vips::VImage& header,
                                 std::uint64_t jpeg_coefficients, bool interlaced_png,
                                 bool random_access) {
  whole_image_memory need;
  if (format == "jpeg")
    need = {jpeg_coefficients,
            jpeg_coefficients > 0 ? "the DCT coefficients of a multi-scan (progressive) JPEG" : ""};
  else if (format == "png" && interlaced_png)
    need = decoded_image(header, 1, "an interlaced PNG's whole image");
  else if (format == "webp" || format == "gif" || format == "heif")
    need = decoded_image(header, 2, "the decoder's whole frame");
  else if (format == "tiff")
    need = decoded_image(header, 1, "a TIFF's whole image");
  if (random_access)
    need += decoded_image(header, 1, "the decoded image (an operation needs all of it)");
  return need;
}

void check_decode_memory(const whole_image_memory& need, std::int64_t budget) {
  if (need.bytes <= static_cast<std::uint64_t>(budget))
    return;
  fail(image_errc::too_large, "decoding the input would hold " +
                                  mebibytes(static_cast<double>(need.bytes)) + " at once (" +
                                  need.what + "); max_decode_memory is " +
                                  mebibytes(static_cast<double>(budget)));
}

void release_freed_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

bool png_interlaced(const std::uint8_t* data, std::size_t size) noexcept {
  // 8-byte signature, then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4), bit
  // depth, colour type, compression, filter, interlace method (byte 28).
  return size > 28 && std::memcmp(data + 12, "IHDR", 4) == 0 && data[28] == 1;
}

} // namespace loopbridge::actors::detail
