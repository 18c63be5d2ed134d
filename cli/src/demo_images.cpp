#include "demo_images.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <filesystem>
#include <unistd.h>
#include <vips/vips8>

#include "loopbridge/actors/image_processor.hpp"

namespace loopbridge::cli {

namespace {

namespace fs = std::filesystem;
using vips::VImage;

/// Image `i`: a gradient in red and blue, rings in green around a centre that moves with `i`.
/// Drawn at a quarter of its size and scaled up (the maths per pixel is the slow part).
VImage demo_image(int i) {
  int full_w = 1280 + (i * 173) % 1281;
  int full_h = 720 + (i * 97) % 721;
  int w = full_w / 4;
  int h = full_h / 4;
  auto xy = VImage::xyz(w, h);
  auto x = xy[0];
  auto y = xy[1];
  double cx = w * (0.2 + 0.6 * ((i * 37) % 100) / 100.0);
  double cy = h * (0.2 + 0.6 * ((i * 61) % 100) / 100.0);
  auto dist = ((x - cx).pow(2) + (y - cy).pow(2)).pow(0.5);
  auto red = (x * (255.0 / w) + i * 23) % 256;
  auto green = (dist * (8.0 + 4 * (i % 7))).sin() * 110 + 128;
  auto blue = y * (255.0 / h);
  return VImage::bandjoin(std::vector<VImage>{red, green, blue})
      .cast(VIPS_FORMAT_UCHAR)
      .resize(static_cast<double>(full_w) / w, VImage::option()
                                                   ->set("vscale", static_cast<double>(full_h) / h)
                                                   ->set("kernel", VIPS_KERNEL_LINEAR))
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

} // namespace

demo_images_result ensure_demo_images(const std::string& dir, int count) {
  demo_images_result out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    out.error = "cannot create " + dir + ": " + ec.message();
    return out;
  }
  std::vector<int> missing;
  for (int i = 0; i < count; ++i) {
    if (fs::exists(fs::path{dir} / ("img-" + std::to_string(i) + ".jpg")))
      ++out.present;
    else
      missing.push_back(i);
  }
  if (missing.empty())
    return out;
  try {
    actors::image_processor::init_vips();
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<int> generated{0};
  std::mutex error_mutex;
  auto work = [&] {
    for (auto k = next++; k < missing.size(); k = next++) {
      int i = missing[k];
      auto final_path = fs::path{dir} / ("img-" + std::to_string(i) + ".jpg");
      // Unique per process and image: two demos starting at once in one directory both work.
      auto temp_path = fs::path{dir} / (".img-" + std::to_string(i) + "." +
                                        std::to_string(::getpid()) + ".partial.jpg");
      try {
        demo_image(i).jpegsave(temp_path.c_str(), VImage::option()->set("Q", 85));
        fs::rename(temp_path, final_path);
        ++generated;
      } catch (const std::exception& e) {
        std::error_code ignored;
        fs::remove(temp_path, ignored);
        std::lock_guard<std::mutex> guard{error_mutex};
        if (out.error.empty())
          out.error = "cannot write " + final_path.string() + ": " + e.what();
        vips_error_clear();
      }
    }
    vips_thread_shutdown();
  };
  auto threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 8));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (auto& t : pool)
    t.join();
  out.generated = generated.load();
  return out;
}

} // namespace loopbridge::cli
