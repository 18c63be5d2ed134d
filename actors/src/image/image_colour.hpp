#pragma once

#include <vips/vips8>

namespace loopbridge::actors::detail {

// Colour management of the image processor. An input is taken as sRGB unless it embeds an ICC
// profile: untagged input costs nothing. A tagged input is converted to sRGB through its profile
// (after a leading thumbnail's shrink, on few pixels), unless the processor keeps input
// profiles; CMYK input is always converted, through its own profile or libvips' built-in CMYK
// one. Outputs carry no metadata, except the kept profile.

/// What an input's header says about its colour.
struct input_colour {
  /// It embeds an ICC profile that fits its pixels (an RGB profile on colour pixels, a grey one
  /// on grey pixels); a profile that does not fit is ignored, as if there were none.
  bool tagged = false;
  /// Its pixels are CMYK.
  bool cmyk = false;
};

[[nodiscard]] input_colour colour_of(const vips::VImage& header);

/// CMYK pixels as sRGB, through the image's own profile (libvips' built-in CMYK profile when it
/// has none that fits). The sRGB profile is attached.
[[nodiscard]] vips::VImage cmyk_to_srgb(const vips::VImage& image);

/// A tagged image (see `input_colour::tagged`) converted to sRGB through its profile, with the
/// sRGB profile attached; grey stays grey. Any other image is returned as it is.
[[nodiscard]] vips::VImage tagged_to_srgb(const vips::VImage& image);

/// An image ready for the encoder, and whether the encoder strips its metadata.
struct output_image {
  vips::VImage image;
  bool strip = true;
};

/// What the encoder writes besides pixels: nothing; or, with `keep_profile`, the image's ICC
/// profile when it fits the output's pixels. (Writing a profile, libvips' JPEG and WebP
/// encoders add a small EXIF block of their own: size, resolution, orientation 1.)
[[nodiscard]] output_image for_output(const vips::VImage& image, bool keep_profile);

} // namespace loopbridge::actors::detail
