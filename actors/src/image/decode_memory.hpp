#pragma once

#include <cstdint>
#include <string>

#include <vips/vips8>

namespace loopbridge::actors::detail {

/// What decoding one input holds in memory for the whole image at once, beyond the few rows or
/// tiles a streaming decode keeps, and the reason: known from the header, before any pixel is
/// decoded. An image processor refuses an input whose figure exceeds its `max_decode_memory`.
struct whole_image_memory {
  std::uint64_t bytes = 0;
  /// What the bytes hold, for the refusal's message (empty when `bytes` is 0).
  std::string what;

  whole_image_memory& operator+=(const whole_image_memory& more);
};

/// Pixels of `width` x `height` with `bands` samples of `format` each.
[[nodiscard]] std::uint64_t pixel_bytes(std::uint64_t width, std::uint64_t height, int bands,
                                        VipsBandFormat format);

/// What libvips' loader of `format` (a name from `acceptable_input_formats`) holds at once,
/// estimated from the header it read (`header`) and, for JPEG, from the coefficient memory
/// libjpeg announces (`jpeg_coefficients`, see `jpeg_decoder::coefficient_bytes`); for PNG
/// whether it is interlaced. With `random_access` (an operation needs the whole image), the
/// decoded image itself is held too.
///
/// The figures follow each decoder in libvips 8.14: JPEG streams rows except the DCT
/// coefficients of a multi-scan (progressive) file, kept for the whole image whatever the
/// shrink; PNG streams rows unless interlaced (then the whole image); WebP, GIF and HEIF decode
/// whole frames (counted twice: the decoder's buffers and the frame); TIFF is counted whole
/// (a file may keep the image in one strip).
[[nodiscard]] whole_image_memory loader_memory(const std::string& format,
                                               const vips::VImage& header,
                                               std::uint64_t jpeg_coefficients, bool interlaced_png,
                                               bool random_access);

/// Refuses (`image.too_large`) a decode that would hold more than `budget` bytes at once.
void check_decode_memory(const whole_image_memory& need, std::int64_t budget);

/// Hands memory freed by the calling thread's requests back to the system. Without it, the
/// whole-image buffers of one decode stay in the thread's malloc arena (glibc raises its
/// threshold for serving large blocks from fresh mappings once one is freed), and a later
/// decode of another size takes more of it: the process would grow past the stated bound.
/// Costs a walk of the malloc arenas: call it after a request that held a large buffer. A no-op
/// where the C library has no such call.
void release_freed_memory();

/// Whole-image buffers from this size up are handed back after their request.
constexpr std::uint64_t release_threshold = std::uint64_t{8} << 20;

/// Whether PNG bytes (at least the signature and the IHDR chunk) announce Adam7 interlacing.
[[nodiscard]] bool png_interlaced(const std::uint8_t* data, std::size_t size) noexcept;

} // namespace loopbridge::actors::detail
