#pragma once

#include <vector>

#include <vips/vips8>

#include "loopbridge/actors/image_processor.hpp"

namespace loopbridge::actors::detail {

// The operations of an image request's chain (`image_op`): their checks and their libvips
// calls. Every function may throw `image_failure` (`loop.bad_request`) for a malformed op, and
// libvips' `VError`.

/// Checks the arguments of every op before any work is done.
void check_ops(const std::vector<image_op>& ops);

/// libvips' smart-crop mode named by an op's `crop`.
[[nodiscard]] VipsInteresting crop_mode(const std::string& crop);
/// The resampling filter named by an op's `kernel` (empty: lanczos3, libvips' default).
[[nodiscard]] VipsKernel kernel_of(const std::string& kernel);
/// Whether a thumbnail op asks for a filter other than libvips' thumbnail's own (lanczos3).
[[nodiscard]] bool custom_kernel(const image_op& o);
/// Whether an op reads its input in any order (the whole decoded image is then kept).
[[nodiscard]] bool needs_random_access(const image_op& o);

/// The options of libvips' thumbnail for a thumbnail op (its crop and box height).
[[nodiscard]] vips::VOption* thumbnail_options(const image_op& o);

/// `img` with `o` applied.
[[nodiscard]] vips::VImage apply(const vips::VImage& img, const image_op& o);

} // namespace loopbridge::actors::detail
