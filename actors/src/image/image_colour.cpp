#include "image/image_colour.hpp"

#include <cstring>
#include <memory>
#include <string>

namespace loopbridge::actors::detail {

namespace {

/// The colour space an ICC profile describes (bytes 16..19 of its header).
enum class profile_space { none, rgb, grey, cmyk, other };

profile_space space_of_profile(const vips::VImage& image) {
  if (image.get_typeof(VIPS_META_ICC_NAME) == 0)
    return profile_space::none;
  const void* data = nullptr;
  std::size_t size = 0;
  if (vips_image_get_blob(image.get_image(), VIPS_META_ICC_NAME, &data, &size) != 0 || size < 20)
    return profile_space::other;
  const char* signature = static_cast<const char*>(data) + 16;
  if (std::memcmp(signature, "RGB ", 4) == 0)
    return profile_space::rgb;
  if (std::memcmp(signature, "GRAY", 4) == 0)
    return profile_space::grey;
  if (std::memcmp(signature, "CMYK", 4) == 0)
    return profile_space::cmyk;
  return profile_space::other;
}

/// Bands that carry colour (without an alpha band).
int colour_bands(const vips::VImage& image) {
  return vips_image_hasalpha(image.get_image()) ? image.bands() - 1 : image.bands();
}

/// Whether the image's profile describes pixels like its own.
bool profile_fits(const vips::VImage& image) {
  switch (space_of_profile(image)) {
    case profile_space::rgb:
      return colour_bands(image) == 3;
    case profile_space::grey:
      return colour_bands(image) == 1;
    case profile_space::cmyk:
      return image.interpretation() == VIPS_INTERPRETATION_CMYK;
    default:
      return false;
  }
}

int depth_of(const vips::VImage& image) {
  return image.format() == VIPS_FORMAT_USHORT ? 16 : 8;
}

} // namespace

input_colour colour_of(const vips::VImage& header) {
  input_colour c;
  c.cmyk = header.interpretation() == VIPS_INTERPRETATION_CMYK;
  c.tagged = !c.cmyk && profile_fits(header);
  return c;
}

vips::VImage cmyk_to_srgb(const vips::VImage& image) {
  // `embedded` takes the image's profile if libvips finds it usable, else `input_profile`.
  return image.icc_transform("srgb", vips::VImage::option()
                                         ->set("embedded", true)
                                         ->set("input_profile", "cmyk")
                                         ->set("depth", depth_of(image)));
}

vips::VImage tagged_to_srgb(const vips::VImage& image) {
  if (!colour_of(image).tagged)
    return image;
  bool grey = colour_bands(image) == 1;
  auto srgb = image.icc_transform(
      "srgb", vips::VImage::option()->set("embedded", true)->set("depth", depth_of(image)));
  if (!grey)
    return srgb;
  return srgb.colourspace(depth_of(image) == 16 ? VIPS_INTERPRETATION_GREY16
                                                : VIPS_INTERPRETATION_B_W);
}

output_image for_output(const vips::VImage& image, bool keep_profile) {
  // The encoder writes what the image carries, and libvips 8.14.1's WebP encoder ignores
  // `strip`: drop every field (EXIF, XMP, IPTC, comments, a profile) but a kept profile.
  bool keep = keep_profile && profile_fits(image);
  auto out = image.copy();
  std::unique_ptr<gchar*, void (*)(gchar**)> fields{vips_image_get_fields(out.get_image()),
                                                    &g_strfreev};
  for (gchar** f = fields.get(); f && *f; ++f)
    if (!keep || std::strcmp(*f, VIPS_META_ICC_NAME) != 0)
      out.remove(*f);
  return {out, !keep};
}

} // namespace loopbridge::actors::detail
