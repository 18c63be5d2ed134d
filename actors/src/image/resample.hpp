#pragma once

#include <vips/vips8>

namespace loopbridge::actors::detail {

/// Whether `resample` takes `img` to `width` × `height` with `kernel`: 8-bit pixels already
/// held in memory (what the JPEG decoder hands on), a shrink in both directions (so the result
/// is never larger than the input), and a kernel with a continuous filter (not `nearest`).
/// Anything else is resampled by libvips.
[[nodiscard]] bool resamplable(const vips::VImage& img, int width, int height, VipsKernel kernel);

/// `img` resampled to `width` × `height` with `kernel` (linear, cubic — Catmull-Rom —,
/// mitchell, lanczos2, lanczos3), the filter stretched by the shrink factor so that every input
/// pixel contributes (as libvips' `reduce` and Pillow's `resize` do), the edge pixels repeated
/// beyond the edges (as libvips does). Separable: the vertical pass first (over whole rows),
/// then the horizontal one (over the transposed rows); 14-bit fixed-point weights, 16-bit
/// pixels between the passes. The result is a new image in memory with `img`'s metadata
/// (profile, resolution, interpretation).
///
/// This replaces libvips' `resize` on the image processor's hot path: libvips compiles vector
/// code for every vertical reduction it builds (once per image, under liborc's lock, see
/// orc_serialiser.cpp), which costs more than the pass itself at thumbnail sizes.
///
/// Requires `resamplable(img, width, height, kernel)`. Throws `std::bad_alloc` when memory for
/// the result cannot be had. Any thread may call it; it keeps no state between calls.
[[nodiscard]] vips::VImage resample(const vips::VImage& img, int width, int height,
                                    VipsKernel kernel);

} // namespace loopbridge::actors::detail
