#include "image/image_ops.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "image/image_failure.hpp"
#include "image/resample.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors::detail {

namespace {

/// Checks the arguments of one op; `where` prefixes the message.
void check_op(const image_op& o, const std::string& where) {
  if (o.op == "thumbnail") {
    if (o.width <= 0 || o.width > 100000 || o.height < 0 || o.height > 100000)
      refuse(where + "width must be 1..100000 (height 0..100000)");
    (void)crop_mode(o.crop);
  } else if (o.op == "resize") {
    if (o.scale == 0 && o.width <= 0 && o.height <= 0)
      refuse(where + "give scale, or width and/or height");
    if (o.scale < 0 || o.scale > 100 || o.width < 0 || o.height < 0 || o.width > 100000 ||
        o.height > 100000)
      refuse(where + "scale must be in (0, 100], width and height 1..100000");
  } else if (o.op == "rotate") {
    if (!std::isfinite(o.angle))
      refuse(where + "angle must be a number of degrees");
  } else if (o.op == "blur") {
    if (!(o.sigma > 0) || o.sigma > 1000)
      refuse(where + "sigma must be in (0, 1000]");
  }
  if (o.op == "thumbnail" || o.op == "resize") {
    try {
      (void)kernel_of(o.kernel);
    } catch (const image_failure& f) {
      refuse(where + f.e.message());
    }
  } else if (!o.kernel.empty()) {
    refuse(where + "kernel applies to thumbnail and resize only");
  }
}

/// A thumbnail with a filter libvips' thumbnail does not offer: the same box arithmetic (fit
/// inside the box, or fill it and crop), then that kernel: loopbridge's own resampler for a
/// shrink of pixels in memory (see resample.hpp), else libvips' `resize`.
vips::VImage resampled_thumbnail(const vips::VImage& in, const image_op& o) {
  using vips::VImage;
  double box_width = static_cast<double>(o.width);
  double box_height = static_cast<double>(o.height > 0 ? o.height : o.width);
  double horizontal = in.width() / box_width, vertical = in.height() / box_height;
  auto crop = crop_mode(o.crop);
  auto kernel = kernel_of(o.kernel);
  double shrink = crop == VIPS_INTERESTING_NONE ? std::max(horizontal, vertical)
                                                : std::min(horizontal, vertical);
  int width = std::max(1, static_cast<int>(std::lround(in.width() / shrink)));
  int height = std::max(1, static_cast<int>(std::lround(in.height() / shrink)));
  auto img = resamplable(in, width, height, kernel)
                 ? resample(in, width, height, kernel)
                 : in.resize(1.0 / shrink, VImage::option()->set("kernel", kernel));
  if (crop != VIPS_INTERESTING_NONE)
    img = img.smartcrop(std::min(static_cast<int>(box_width), img.width()),
                        std::min(static_cast<int>(box_height), img.height()),
                        VImage::option()->set("interesting", crop));
  return img;
}

vips::VImage resized(const vips::VImage& img, const image_op& o) {
  double h = o.scale, v = o.scale;
  if (o.scale == 0) {
    h = o.width > 0 ? static_cast<double>(o.width) / img.width() : 0;
    v = o.height > 0 ? static_cast<double>(o.height) / img.height() : 0;
    if (h == 0)
      h = v;
    if (v == 0)
      v = h;
  }
  auto kernel = kernel_of(o.kernel);
  return img.resize(h, vips::VImage::option()->set("vscale", v)->set("kernel", kernel));
}

vips::VImage rotated(const vips::VImage& img, double angle) {
  auto a = std::fmod(angle, 360.0);
  if (a < 0)
    a += 360;
  if (a == 0)
    return img;
  if (a == 90)
    return img.rot(VIPS_ANGLE_D90);
  if (a == 180)
    return img.rot(VIPS_ANGLE_D180);
  if (a == 270)
    return img.rot(VIPS_ANGLE_D270);
  return img.rotate(a);
}

} // namespace

void check_ops(const std::vector<image_op>& ops) {
  static const char* const known[] = {"thumbnail", "resize", "rotate", "grayscale", "blur"};
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto& o = ops[i];
    if (std::find(std::begin(known), std::end(known), o.op) == std::end(known))
      refuse("ops[" + std::to_string(i) + "]: unknown operation " + quote(o.op) +
             " (thumbnail, resize, rotate, grayscale, blur)");
    check_op(o, "ops[" + std::to_string(i) + "] (" + o.op + "): ");
  }
}

VipsInteresting crop_mode(const std::string& c) {
  if (c == "none" || c.empty())
    return VIPS_INTERESTING_NONE;
  if (c == "centre" || c == "center")
    return VIPS_INTERESTING_CENTRE;
  if (c == "attention")
    return VIPS_INTERESTING_ATTENTION;
  if (c == "entropy")
    return VIPS_INTERESTING_ENTROPY;
  refuse("unknown crop " + quote(c) + " (none, centre, attention, entropy)");
}

VipsKernel kernel_of(const std::string& k) {
  if (k.empty() || k == "lanczos3")
    return VIPS_KERNEL_LANCZOS3;
  if (k == "lanczos2")
    return VIPS_KERNEL_LANCZOS2;
  if (k == "mitchell")
    return VIPS_KERNEL_MITCHELL;
  if (k == "cubic")
    return VIPS_KERNEL_CUBIC;
  if (k == "linear")
    return VIPS_KERNEL_LINEAR;
  if (k == "nearest")
    return VIPS_KERNEL_NEAREST;
  refuse("unknown kernel " + quote(k) + " (lanczos3, lanczos2, mitchell, cubic, linear, nearest)");
}

bool custom_kernel(const image_op& o) {
  return kernel_of(o.kernel) != VIPS_KERNEL_LANCZOS3;
}

bool needs_random_access(const image_op& o) {
  return o.op == "rotate";
}

vips::VOption* thumbnail_options(const image_op& o) {
  auto crop = crop_mode(o.crop); // before the options: it may throw
  auto opts = vips::VImage::option()->set("crop", crop);
  if (o.height > 0)
    opts->set("height", static_cast<int>(o.height));
  return opts;
}

vips::VImage apply(const vips::VImage& img, const image_op& o) {
  if (o.op == "thumbnail") {
    if (custom_kernel(o))
      return resampled_thumbnail(img, o);
    return img.thumbnail_image(static_cast<int>(o.width), thumbnail_options(o));
  }
  if (o.op == "resize")
    return resized(img, o);
  if (o.op == "rotate")
    return rotated(img, o.angle);
  if (o.op == "grayscale")
    return img.colourspace(VIPS_INTERPRETATION_B_W);
  return img.gaussblur(o.sigma); // blur (checked)
}

} // namespace loopbridge::actors::detail
