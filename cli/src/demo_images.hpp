#pragma once

#include <string>

namespace loopbridge::cli {

/// What `ensure_demo_images` did.
struct demo_images_result {
  int generated = 0; ///< images written now
  int present = 0;   ///< images that were already there
  std::string error; ///< set when the directory or an image could not be written
};

/// Makes sure `dir` holds the demo's `count` source images, `img-0.jpg` .. `img-<count-1>.jpg`:
/// colourful JPEGs of varied sizes (1280x720 up to 2560x1440), generated with libvips on every
/// core. Existing files are kept, so only the first run pays for generation; each new file is
/// written under a temporary name and renamed, so an interrupted run leaves no half image.
/// Call from the main thread before the runtime starts (it starts libvips).
demo_images_result ensure_demo_images(const std::string& dir, int count);

} // namespace loopbridge::cli
