#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <vips/vips8>

#include "image/image_formats.hpp"
#include "image/image_input.hpp"
#include "image/image_job.hpp"
#include "image/stage_watch.hpp"

namespace loopbridge::actors::detail {

/// What the load stage hands on: the input's image, decoded lazily by libvips' loader or in
/// full by libjpeg-turbo.
struct loaded_image {
  vips::VImage image;
  /// Leading ops done while decoding (libvips' thumbnail, which shrinks while decoding).
  std::size_t ops_applied = 0;
  /// The image embeds a profile that the transform stage converts to sRGB (after the shrink).
  bool convert_colour = false;
};

/// Frees a blob libvips returned.
struct blob_unref {
  void operator()(VipsBlob* blob) const { vips_area_unref(VIPS_AREA(blob)); }
};

/// The encoded result.
struct encoded_image {
  std::unique_ptr<VipsBlob, blob_unref> blob;
  int width = 0;
  int height = 0;
};

/// How many images the load stage has had libjpeg-turbo decode directly (the fast path of a
/// leading thumbnail), in this process: tests check which inputs take that path.
[[nodiscard]] std::uint64_t direct_jpeg_decodes() noexcept;

/// One image request, stage by stage: `load` (identify the format, check the header, decode),
/// `transform` (the chain, with colour management after the shrink), `encode`, `deliver`. Call
/// them in that order, once each, on one thread; images made by one stage may be handed to the
/// next. Each stage throws `image_failure` with the error kind of the stage that failed: libvips
/// computes pixels lazily, so a failure that surfaces in a later call is traced back to its
/// stage (`stage_watch`), never guessed from libvips' error text.
///
/// Every image made by a stage must be destroyed before the pipeline: declare it first.
class image_pipeline {
public:
  image_pipeline(image_job job, const image_settings& settings,
                 const std::function<bool()>& cancelled);
  /// Hands a large decode's freed buffers back to the system (see `release_freed_memory`).
  ~image_pipeline();
  image_pipeline(const image_pipeline&) = delete;
  image_pipeline& operator=(const image_pipeline&) = delete;

  /// Errors: `image.decode_failed`, `image.unsupported_format`, `image.too_large`,
  /// `loop.cancelled`.
  [[nodiscard]] loaded_image load();
  /// Errors: `loop.bad_request` (libvips could not apply an op), `image.decode_failed` (the
  /// input failed while an op read it), `loop.cancelled`.
  [[nodiscard]] vips::VImage transform(loaded_image loaded);
  /// Computes the pixels and encodes them. Errors: `image.output_failed`, or the error of the
  /// stage whose pixels failed.
  [[nodiscard]] encoded_image encode(const vips::VImage& image);
  /// The reply, or the file written. Errors: `image.output_failed`.
  [[nodiscard]] image_reply deliver(encoded_image encoded);

private:
  /// The outcome of decoding a JPEG with libjpeg-turbo directly.
  struct jpeg_attempt {
    /// The decoded image, or nothing: libvips' loader takes the input.
    std::optional<loaded_image> loaded;
    /// Bytes of DCT coefficients libjpeg holds for the whole image (multi-scan files).
    std::uint64_t coefficients = 0;
  };

  [[nodiscard]] jpeg_attempt decode_jpeg();
  void supply_jpeg_end_marker();
  [[nodiscard]] loaded_image load_with_libvips(std::uint64_t jpeg_coefficients);
  [[nodiscard]] vips::VImage apply_op(const vips::VImage& image, std::size_t index);
  [[nodiscard]] vips::VImage convert_colour(const vips::VImage& image);
  /// Ends the request with `image.decode_failed`, naming what libjpeg found wrong with a JPEG.
  [[noreturn]] void decode_failed();
  /// Ends the request after libvips failed to compute pixels in `stage`: the error of the
  /// earliest stage whose watch point saw the failure, else `own`.
  [[noreturn]] void pixels_failed(const char* stage, const error& own);
  void check_cancelled() const;

  stage_watch watch_;
  image_job job_;
  const image_settings& settings_;
  const std::function<bool()>& cancelled_;
  image_input input_;
  identified_format format_;
  /// The output format: the request's, else the input's (PNG for formats not written).
  std::string output_format_;
  /// What libjpeg-turbo objected to when it refused the input, or empty.
  std::string jpeg_refusal_;
  /// What the decode holds for the whole image at once (known once `load` checked the header).
  std::uint64_t whole_image_bytes_ = 0;
  /// The input with the end marker it lacked (see `supply_jpeg_end_marker`), or empty.
  loopbridge::bytes completed_;
};

} // namespace loopbridge::actors::detail
