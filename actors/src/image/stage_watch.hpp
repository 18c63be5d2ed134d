#pragma once

#include <atomic>

#include <vips/vips8>

namespace loopbridge::actors::detail {

/// The stages of an image request whose pixels libvips computes lazily.
enum class pixel_stage { load, transform };

/// Tells which stage of one request's libvips pipeline failed. libvips computes pixels only when
/// something pulls them, usually the encoder: a truncated input fails inside the encoder's call,
/// and libvips' error text (one buffer for the whole process) cannot say whose it is. A watch
/// point is a pass-through placed after a stage's last operation; it records whether computing
/// its input failed. A failure upstream of several points marks each of them, so the earliest
/// marked stage is the one that failed.
///
/// One watch per request. Watch points are evaluated on libvips' worker threads: `failed` may be
/// read on any thread, and is final once the call that evaluated the pipeline has returned.
/// The watch must outlive every image made by `watch` (declare it before them).
class stage_watch {
public:
  stage_watch() = default;
  stage_watch(const stage_watch&) = delete;
  stage_watch& operator=(const stage_watch&) = delete;

  /// `image` with a watch point for `stage` after it: the same pixels and header, passed on
  /// region by region without copying.
  [[nodiscard]] vips::VImage watch(const vips::VImage& image, pixel_stage stage);
  /// Whether computing the pixels before `stage`'s watch point failed.
  [[nodiscard]] bool failed(pixel_stage stage) const noexcept;

private:
  std::atomic<bool> load_failed_{false};
  std::atomic<bool> transform_failed_{false};
};

} // namespace loopbridge::actors::detail
