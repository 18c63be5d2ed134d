// libFuzzer target: an image processor's thumbnail of arbitrary bytes, the path that decodes
// JPEGs with libjpeg-turbo directly (and libvips' loaders for anything else). It must never
// crash, hang or throw: every input gives a thumbnail or a typed error.
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
  req.ops = {image_op::thumbnail(48)};
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
