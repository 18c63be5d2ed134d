#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <vips/vips8>

namespace loopbridge::actors::detail {

/// A JPEG that libjpeg refused: corrupt data, a truncated file, not a JPEG at all. While
/// decoding pixels, warnings count as errors (extraneous bytes before a marker, corrupt data):
/// such files go to libvips' loader, which is more lenient.
struct jpeg_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Whether `data` starts with the JPEG start-of-image marker.
bool looks_like_jpeg(const std::uint8_t* data, std::size_t size) noexcept;

/// Decodes a JPEG with libjpeg-turbo on the calling thread, straight into a libvips memory image,
/// using libjpeg's DCT scaling for shrink-on-load. This is the loading half of a thumbnail
/// without libvips' loader pipeline (strip by strip through regions, on a vips worker thread),
/// which costs more CPU for the same pixels.
///
/// The pixels are exactly those of libvips' own JPEG loader at the same shrink (same library,
/// same settings), so the image processor takes this path only when libvips would not treat
/// the file specially: see `plain()`. An embedded ICC profile is attached to the image, as
/// libvips' loader does.
///
/// One decoder per image; not shared between threads. Every method may throw `jpeg_error`.
class jpeg_decoder {
public:
  jpeg_decoder();
  ~jpeg_decoder();
  jpeg_decoder(const jpeg_decoder&) = delete;
  jpeg_decoder& operator=(const jpeg_decoder&) = delete;
  /// Between calls only; a moved-from decoder may only be destroyed.
  jpeg_decoder(jpeg_decoder&&) noexcept;

  /// Reads the header from bytes that must stay valid until the decoder is destroyed. Warnings
  /// (extraneous bytes between markers) are noted, not fatal: see `header_warning`.
  void read_header(const std::uint8_t* data, std::size_t size);
  /// Reads the header from an open file (read from its current position; not closed here).
  void read_header(std::FILE* file);

  int width() const noexcept;
  int height() const noexcept;
  /// True if libvips' loader and thumbnail would do nothing beyond decoding: one (grey) or three
  /// (YCbCr or RGB) components of 8 bits, no EXIF orientation other than upright (libvips would
  /// rotate it), and a header read without warnings.
  bool plain() const noexcept { return plain_; }
  /// libjpeg's first warning while reading the header, or empty.
  const std::string& header_warning() const noexcept;
  /// Bytes libjpeg holds for the whole image while decoding: the DCT coefficients of every block
  /// when the file has several scans (progressive, or components in separate scans), whatever
  /// the shrink; 0 for a single-scan file (decoded a few rows at a time).
  std::uint64_t coefficient_bytes() const noexcept;
  /// Bytes of the image `decode(shrink, ...)` returns.
  std::uint64_t decoded_bytes(int shrink) const noexcept;

  /// Whether the file has one scan (baseline): `coefficient_bytes` is then 0.
  bool single_scan() const noexcept;

  /// Decodes the image at 1/`shrink` of its size (1, 2, 4 or 8). `stop` is polled every few
  /// rows; if it returns true, decoding ends and an empty image is returned. A single-scan file
  /// whose data ends where its end marker belongs decodes (see `end_marker_missing`); one cut
  /// short inside its scan fails. A multi-scan file without its end marker fails: later scans
  /// may be missing.
  [[nodiscard]] vips::VImage decode(int shrink, const std::function<bool()>& stop);
  /// After `decode`: the file lacked only its end marker.
  bool end_marker_missing() const noexcept;

private:
  struct state;
  void inspect_markers();
  void attach_icc_profile();
  std::unique_ptr<state> s_;
  bool plain_ = false;
};

/// libvips' shrink-on-load rule for a thumbnail: shrink in the decoder by 8, 4 or 2 while at
/// least a factor of two is left for the resampling filter. `target_height` 0 means a square box
/// (as libvips' thumbnail); `fill` is true for a cropping thumbnail (the box is filled).
int thumbnail_jpeg_shrink(int width, int height, int target_width, int target_height, bool fill);

} // namespace loopbridge::actors::detail
