// libFuzzer target: an image processor's thumbnail of arbitrary bytes, the path that decodes
// JPEGs with libjpeg-turbo directly (and libvips' loaders for anything else). It must never
// crash, hang or throw: every input gives a thumbnail or a typed error. The input's length
// picks the filter and the box, so every input stays an image and both resamplers run: odd
// lengths ask for `kernel: cubic` (loopbridge's resampler for pixels decoded directly), even
// ones for the default (libvips' thumbnail); every other pair fills a 48x48 box and crops.
#include <cstddef>
#include <cstdint>

#include "loopbridge/actors/image_processor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loopbridge::actors;
  static const image_settings settings = [] {
    image_processor::init_vips();
    image_settings s;
    s.max_pixels = 4'000'000; // a header may announce anything: refused before decoding
    s.max_decode_memory = 64 << 20;
    return s;
  }();
  image_request req;
  req.input.assign(data, data + size);
  bool fill = (size / 2) % 2 == 1;
  req.ops = {fill ? image_op::thumbnail(48, 48, "centre") : image_op::thumbnail(48)};
  if (size % 2 == 1)
    req.ops[0].kernel = "cubic";
  req.format = "jpeg";
  auto out = process_image(std::move(req), settings);
  if (out.ok()) {
    if (out->width < 1 || out->height < 1 || out->width > 48 || out->height > 48 ||
        out->data.empty())
      __builtin_trap();
  } else if (!out.is(image_errc::decode_failed) && !out.is(image_errc::too_large) &&
             !out.is(image_errc::unsupported_format) && !out.is(image_errc::output_failed) &&
             !out.is(loopbridge::errc::bad_request)) {
    __builtin_trap();
  }
  return 0;
}
