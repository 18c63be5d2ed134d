#include "image/stage_watch.hpp"

#include <new>

namespace loopbridge::actors::detail {

namespace {

/// Computes one region of a watch point: prepares the same region of its input and makes the
/// output a window on it (no copy), as libvips' own `copy` does. A failure is recorded in the
/// flag before libvips sees it.
int pass_through(VipsRegion* out, void* seq, void* /*input image*/, void* flag, gboolean*) {
  auto* in = static_cast<VipsRegion*>(seq);
  VipsRect* r = &out->valid;
  if (vips_region_prepare(in, r) != 0) {
    static_cast<std::atomic<bool>*>(flag)->store(true, std::memory_order_relaxed);
    return -1;
  }
  return vips_region_region(out, in, r, r->left, r->top);
}

} // namespace

vips::VImage stage_watch::watch(const vips::VImage& image, pixel_stage stage) {
  auto* flag = stage == pixel_stage::load ? &load_failed_ : &transform_failed_;
  VipsImage* in = image.get_image();
  vips::VImage out{vips_image_new()}; // owns the new image's reference
  // The output keeps its input alive: a reference dropped when the output closes.
  g_object_ref(in);
  vips_object_local(out.get_image(), in);
  if (vips_image_pipelinev(out.get_image(), VIPS_DEMAND_STYLE_ANY, in, nullptr) != 0 ||
      vips_image_generate(out.get_image(), vips_start_one, pass_through, vips_stop_one, in, flag) !=
          0)
    throw vips::VError{};
  return out;
}

bool stage_watch::failed(pixel_stage stage) const noexcept {
  auto& flag = stage == pixel_stage::load ? load_failed_ : transform_failed_;
  return flag.load(std::memory_order_relaxed);
}

} // namespace loopbridge::actors::detail
