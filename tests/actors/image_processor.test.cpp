// The image processor on real images made here with libvips: every operation's output decoded
// and measured; corrupt, truncated and oversized inputs; paths; pools under each overflow
// policy; results in submission order; stop with jobs queued; errors under concurrency, JPEGs
// only libvips decodes, colour management, accepted formats, and memory under load.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <vips/vips8>
// after vips8, which it needs
#include <vips/vector.h>

#include "image/image_pipeline.hpp"
#include "image/jpeg_decoder.hpp"
#include "image/orc_serialiser.hpp"
#include "image/resample.hpp"
#include "loopbridge/actors/image_processor.hpp"
#include "loopbridge/groups.hpp"
#include "support/test_support.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;
using vips::VImage;

namespace {

using bytes = loopbridge::bytes;

/// A colourful test picture (gradients in three bands), encoded as `format`.
bytes make_image(int w, int h, const std::string& format) {
  image_processor::init_vips(); // libvips starts once, whoever comes first
  auto xy = VImage::xyz(w, h);
  auto x = xy.extract_band(0), y = xy.extract_band(1);
  auto img = ((x * 255 / std::max(1, w - 1)).bandjoin(y * 255 / std::max(1, h - 1)))
                 .bandjoin((x + y) * 255 / std::max(1, w + h - 2))
                 .cast(VIPS_FORMAT_UCHAR)
                 .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  VipsBlob* blob = format == "jpeg"   ? img.jpegsave_buffer()
                   : format == "webp" ? img.webpsave_buffer()
                                      : img.pngsave_buffer();
  std::size_t n;
  auto* p = static_cast<const std::uint8_t*>(vips_blob_get(blob, &n));
  bytes out(p, p + n);
  vips_area_unref(VIPS_AREA(blob));
  return out;
}

/// What an encoded result decodes to.
struct decoded {
  int width = 0, height = 0, bands = 0;
  std::string loader;
};
decoded decode(const bytes& b) {
  auto img = VImage::new_from_buffer(b.data(), b.size(), "");
  const char* loader = nullptr;
  vips_image_get_string(img.get_image(), "vips-loader", &loader);
  // Force a full decode: the result must be a whole image, not just a header.
  (void)img.avg();
  return decoded{img.width(), img.height(), img.bands(), loader ? loader : ""};
}

/// A PNG whose header claims `w` x `h` pixels (the data is a 1x1 image's).
bytes png_claiming(std::uint32_t w, std::uint32_t h) {
  auto png = make_image(1, 1, "png");
  // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); CRC over type+data.
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    png[at] = static_cast<std::uint8_t>(v >> 24);
    png[at + 1] = static_cast<std::uint8_t>(v >> 16);
    png[at + 2] = static_cast<std::uint8_t>(v >> 8);
    png[at + 3] = static_cast<std::uint8_t>(v);
  };
  put32(16, w);
  put32(20, h);
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 12; i < 12 + 4 + 13; ++i) {
    crc ^= png[i];
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  put32(29, crc ^ 0xffffffffu);
  return png;
}

/// A request for `input`. Starts libvips first: tests may call `process_image` directly.
image_request request(bytes input, std::vector<image_op> ops, std::string format = "") {
  image_processor::init_vips();
  image_request r;
  r.input = std::move(input);
  r.ops = std::move(ops);
  r.format = std::move(format);
  return r;
}

lbtest::temp_dir scratch_dir() {
  return lbtest::temp_dir{"loopbridge-images"};
}

actor_handle<image_processor> spawn_images(runtime& rt, const std::string& name, value params = {},
                                           std::uint32_t count = 1, mailbox_spec mailbox = {}) {
  actor_spec s;
  s.name = name;
  s.kind = "image_processor";
  s.params = std::move(params);
  s.count = count;
  s.mailbox = mailbox;
  rt.spawn(s).value();
  return rt.actor<image_processor>(name).value();
}

} // namespace

TEST_CASE("each image operation's output decodes to the expected size",
          "[images][image_processor]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img");
  auto jpeg = make_image(1920, 1080, "jpeg");

  auto thumb = img.call(request(jpeg, {image_op::thumbnail(256)}), 30s);
  REQUIRE(thumb.ok());
  CHECK(thumb->format == "jpeg");
  CHECK(thumb->width == 256);
  CHECK(thumb->height == 144);
  CHECK(thumb->bytes == static_cast<std::int64_t>(thumb->data.size()));
  auto d = decode(thumb->data);
  CHECK(d.width == 256);
  CHECK(d.height == 144);
  CHECK(d.loader.rfind("jpegload", 0) == 0);

  auto square = img.call(request(jpeg, {image_op::thumbnail(100, 100, "centre")}), 30s);
  REQUIRE(square.ok());
  CHECK(decode(square->data).width == 100);
  CHECK(decode(square->data).height == 100);

  auto half = img.call(request(jpeg, {image_op::resize(0.5)}), 30s);
  REQUIRE(half.ok());
  CHECK(decode(half->data).width == 960);
  CHECK(decode(half->data).height == 540);

  auto by_width = image_op{};
  by_width.op = "resize";
  by_width.width = 480;
  auto w480 = img.call(request(jpeg, {by_width}), 30s);
  REQUIRE(w480.ok());
  CHECK(decode(w480->data).width == 480);
  CHECK(decode(w480->data).height == 270);

  auto turned = img.call(request(jpeg, {image_op::rotate(90)}), 30s);
  REQUIRE(turned.ok());
  CHECK(decode(turned->data).width == 1080);
  CHECK(decode(turned->data).height == 1920);

  auto gray = img.call(request(jpeg, {image_op::grayscale()}), 30s);
  REQUIRE(gray.ok());
  CHECK(decode(gray->data).bands == 1);

  auto blurred = img.call(request(jpeg, {image_op::blur(2.0)}), 30s);
  REQUIRE(blurred.ok());
  CHECK(decode(blurred->data).width == 1920);

  // Format conversion, and a chain of operations in one request.
  auto png = make_image(640, 480, "png");
  auto webp = img.call(
      request(png, {image_op::thumbnail(320), image_op::rotate(270), image_op::grayscale()},
              "webp"),
      30s);
  REQUIRE(webp.ok());
  CHECK(webp->format == "webp");
  auto wd = decode(webp->data);
  CHECK(wd.loader.rfind("webpload", 0) == 0);
  CHECK(wd.width == 240);
  CHECK(wd.height == 320);
  auto from_webp = img.call(request(make_image(300, 200, "webp"), {}, "png"), 30s);
  REQUIRE(from_webp.ok());
  CHECK(decode(from_webp->data).loader.rfind("pngload", 0) == 0);
  CHECK(decode(from_webp->data).width == 300);
}

namespace {

/// A noisy, textured picture (so a JPEG of it does not compress away), `bands` 1 or 3.
VImage textured(int w, int h, int bands) {
  image_processor::init_vips();
  auto xy = VImage::xyz(w, h);
  auto x = xy.extract_band(0), y = xy.extract_band(1);
  auto r = (x * 0.07 + y * 0.03).sin() * 80 + 120;
  auto g = (y * 0.05).cos() * 70 + 128;
  auto b = x * (150.0 / w) + 50;
  auto noise = VImage::gaussnoise(w, h, VImage::option()->set("sigma", 8.0)->set("seed", 7));
  auto img = bands == 1 ? r + noise : r.bandjoin(g).bandjoin(b) + noise;
  return img.cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation",
                                  bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB));
}

/// `img` as a quality-85 JPEG; with an EXIF orientation tag when `orientation` is 1..8.
bytes jpeg_of(const VImage& img, int orientation = 0) {
  VImage tagged = img.copy();
  if (orientation > 0)
    tagged.set("orientation", orientation);
  VipsBlob* blob = tagged.jpegsave_buffer(VImage::option()->set("Q", 85));
  std::size_t n;
  auto* p = static_cast<const std::uint8_t*>(vips_blob_get(blob, &n));
  bytes out(p, p + n);
  vips_area_unref(VIPS_AREA(blob));
  return out;
}

/// libvips' own thumbnail of `input` (its loader, shrink-on-load, lanczos3), as the image
/// processor encodes it: JPEG quality 80, stripped.
bytes libvips_thumbnail(const bytes& input, const image_op& o) {
  auto opts = VImage::option()->set("crop", o.crop == "centre" ? VIPS_INTERESTING_CENTRE
                                                               : VIPS_INTERESTING_NONE);
  if (o.height > 0)
    opts->set("height", static_cast<int>(o.height));
  VipsBlob* in = vips_blob_new(nullptr, input.data(), input.size());
  auto img = VImage::thumbnail_buffer(in, static_cast<int>(o.width), opts);
  vips_area_unref(VIPS_AREA(in));
  VipsBlob* blob = img.jpegsave_buffer(VImage::option()->set("Q", 80)->set("strip", true));
  std::size_t n;
  auto* p = static_cast<const std::uint8_t*>(vips_blob_get(blob, &n));
  bytes out(p, p + n);
  vips_area_unref(VIPS_AREA(blob));
  return out;
}

} // namespace

TEST_CASE("the JPEG decoder gives libvips' loader's pixels at every shrink and knows which "
          "files libvips would treat specially",
          "[images][image_processor][jpeg]") {
  using loopbridge::actors::detail::jpeg_decoder;
  auto plain = jpeg_of(textured(1000, 600, 3));
  for (int shrink : {1, 2, 4, 8}) {
    INFO("shrink " << shrink);
    jpeg_decoder d;
    d.read_header(plain.data(), plain.size());
    CHECK(d.width() == 1000);
    CHECK(d.height() == 600);
    CHECK(d.plain());
    auto mine = d.decode(shrink, {});
    auto theirs = VImage::new_from_buffer(plain.data(), plain.size(), "",
                                          VImage::option()->set("shrink", shrink));
    REQUIRE(mine.width() == theirs.width());
    REQUIRE(mine.height() == theirs.height());
    CHECK(mine.bands() == 3);
    CHECK(mine.interpretation() == VIPS_INTERPRETATION_sRGB);
    CHECK((mine - theirs).abs().max() == 0);
  }
  auto exif = jpeg_of(textured(400, 300, 3), 6);
  jpeg_decoder d;
  d.read_header(exif.data(), exif.size());
  CHECK_FALSE(d.plain()); // libvips rotates it: its own loader must take it
  auto exif_upright = jpeg_of(textured(400, 300, 3), 1);
  jpeg_decoder u;
  u.read_header(exif_upright.data(), exif_upright.size());
  CHECK(u.plain());
  auto grey = jpeg_of(textured(200, 100, 1));
  jpeg_decoder g;
  g.read_header(grey.data(), grey.size());
  CHECK(g.plain());
  CHECK(g.decode(1, {}).bands() == 1);
}

TEST_CASE("JPEG thumbnails decoded by libjpeg directly are byte for byte libvips' own",
          "[images][image_processor][jpeg]") {
  image_settings settings;
  struct input_case {
    const char* what;
    bytes input;
    image_op op;
    int width, height;
  };
  auto dense = textured(1600, 1200, 3)
                   .copy(VImage::option()->set("xres", 300 / 25.4)->set("yres", 300 / 25.4));
  std::vector<input_case> cases = {
      {"1920x1080, shrink 2 while decoding", jpeg_of(textured(1920, 1080, 3)),
       image_op::thumbnail(256), 256, 144},
      {"4000x3000, shrink 8", jpeg_of(textured(4000, 3000, 3)), image_op::thumbnail(200), 200, 150},
      {"portrait, shrink 4", jpeg_of(textured(1080, 2400, 3)), image_op::thumbnail(256), 115, 256},
      {"greyscale", jpeg_of(textured(1920, 1080, 1)), image_op::thumbnail(320), 320, 180},
      {"300 dpi", jpeg_of(dense), image_op::thumbnail(256), 256, 192},
      {"centre crop into a box", jpeg_of(textured(1920, 1080, 3)),
       image_op::thumbnail(100, 120, "centre"), 100, 120},
      {"no shrink (small input)", jpeg_of(textured(300, 200, 3)), image_op::thumbnail(256), 256,
       171},
  };
  for (auto& c : cases) {
    INFO(c.what);
    auto out = process_image(request(c.input, {c.op}, "jpeg"), settings);
    REQUIRE(out.ok());
    CHECK(out->width == c.width);
    CHECK(out->height == c.height);
    CHECK(out->data == libvips_thumbnail(c.input, c.op));
  }
}

TEST_CASE("JPEGs libvips treats specially keep libvips' loader: EXIF orientation",
          "[images][image_processor][jpeg]") {
  // Orientation 6 (turn 90 degrees clockwise to view): libvips' thumbnail turns it upright.
  auto rotated = jpeg_of(textured(1920, 1080, 3), 6);
  auto out = process_image(request(rotated, {image_op::thumbnail(256)}), image_settings{});
  REQUIRE(out.ok());
  CHECK(out->width == 144);
  CHECK(out->height == 256);
  CHECK(out->data == libvips_thumbnail(rotated, image_op::thumbnail(256)));
}

TEST_CASE("thumbnail and resize take a resampling kernel, every input kind honours it",
          "[images][image_processor][jpeg]") {
  auto jpeg = jpeg_of(textured(1920, 1080, 3));
  auto with_kernel = [](image_op o, std::string k) {
    o.kernel = std::move(k);
    return o;
  };
  image_settings settings;
  auto lanczos = process_image(request(jpeg, {image_op::thumbnail(256)}, "png"), settings);
  auto cubic = process_image(request(jpeg, {with_kernel(image_op::thumbnail(256), "cubic")}, "png"),
                             settings);
  REQUIRE(lanczos.ok());
  REQUIRE(cubic.ok());
  CHECK(cubic->width == 256);
  CHECK(cubic->height == 144);
  CHECK(cubic->data != lanczos->data); // another filter, other pixels
  // Close to the lanczos3 result all the same: a resampling filter, not a different picture.
  auto a = VImage::new_from_buffer(lanczos->data.data(), lanczos->data.size(), "");
  auto b = VImage::new_from_buffer(cubic->data.data(), cubic->data.size(), "");
  CHECK((a - b).abs().avg() < 3.0);

  // A centre crop fills the box, from a JPEG (decoded directly) and from a PNG (libvips'
  // loader).
  auto png = make_image(900, 600, "png");
  for (auto* input : {&jpeg, &png}) {
    auto boxed = process_image(
        request(*input, {with_kernel(image_op::thumbnail(100, 120, "centre"), "linear")}),
        settings);
    REQUIRE(boxed.ok());
    CHECK(boxed->width == 100);
    CHECK(boxed->height == 120);
  }
  // An EXIF-rotated JPEG goes through libvips' loader and still comes out upright.
  auto rotated = jpeg_of(textured(1920, 1080, 3), 6);
  auto upright = process_image(
      request(rotated, {with_kernel(image_op::thumbnail(256), "mitchell")}), settings);
  REQUIRE(upright.ok());
  CHECK(upright->width == 144);
  CHECK(upright->height == 256);

  auto half = image_op::resize(0.5);
  half.kernel = "nearest";
  auto resized = process_image(request(png, {half}), settings);
  REQUIRE(resized.ok());
  CHECK(resized->width == 450);

  auto unknown =
      process_image(request(jpeg, {with_kernel(image_op::thumbnail(64), "bicubic")}), settings);
  REQUIRE(unknown.is(errc::bad_request));
  CHECK(unknown.error().message() == "ops[0] (thumbnail): unknown kernel 'bicubic' (lanczos3, "
                                     "lanczos2, mitchell, cubic, linear, nearest)");
  auto misplaced =
      process_image(request(jpeg, {with_kernel(image_op::rotate(90), "cubic")}), settings);
  REQUIRE(misplaced.is(errc::bad_request));
  CHECK(misplaced.error().message() ==
        "ops[0] (rotate): kernel applies to thumbnail and resize only");
}

TEST_CASE("loopbridge's resampler agrees with libvips' reduce at every kernel, band count and "
          "size",
          "[images][resample]") {
  using loopbridge::actors::detail::resamplable;
  using loopbridge::actors::detail::resample;
  struct shape {
    int in_w, in_h, out_w, out_h;
  };
  // Several strips of output rows and a partial last one (144 = 4 x 32 + 16), one strip,
  // single pixels, scale near 1, a wide image shrunk little.
  const shape shapes[] = {
      {960, 540, 256, 144}, {37, 23, 5, 3}, {50, 50, 1, 1}, {64, 48, 63, 47}, {3000, 90, 1500, 45}};
  const VipsKernel kernels[] = {VIPS_KERNEL_LINEAR, VIPS_KERNEL_CUBIC, VIPS_KERNEL_MITCHELL,
                                VIPS_KERNEL_LANCZOS2, VIPS_KERNEL_LANCZOS3};
  for (int bands : {1, 2, 3, 4}) {
    for (auto s : shapes) {
      // Fine stripes (a period of about 7 pixels) over the texture: every kernel's response
      // near the shrunk image's resolution shows in the result.
      auto xy = VImage::xyz(s.in_w, s.in_h);
      auto stripes = (xy.extract_band(0) * 0.9 + xy.extract_band(1) * 0.4).sin() * 60;
      auto base =
          (textured(s.in_w, s.in_h, bands == 1 ? 1 : 3) * 0.5 + stripes + 64)
              .cast(VIPS_FORMAT_UCHAR)
              .copy(VImage::option()->set("interpretation", bands == 1 ? VIPS_INTERPRETATION_B_W
                                                                       : VIPS_INTERPRETATION_sRGB));
      if (bands == 2)
        base = base.extract_band(0).bandjoin(base.extract_band(1));
      if (bands == 4)
        base = base.bandjoin(base.extract_band(2));
      auto in = base.copy_memory();
      for (auto k : kernels) {
        INFO(bands << " bands, " << s.in_w << "x" << s.in_h << " -> " << s.out_w << "x" << s.out_h
                   << ", kernel " << static_cast<int>(k));
        REQUIRE(resamplable(in, s.out_w, s.out_h, k));
        auto out = resample(in, s.out_w, s.out_h, k);
        REQUIRE(out.width() == s.out_w);
        REQUIRE(out.height() == s.out_h);
        CHECK(out.bands() == bands);
        CHECK(out.format() == VIPS_FORMAT_UCHAR);
        CHECK(out.interpretation() == in.interpretation());
        // libvips' reduce in floating point, the same kernel, geometry and edges: every pixel
        // agrees to rounding.
        double h = static_cast<double>(s.in_w) / s.out_w, v = static_cast<double>(s.in_h) / s.out_h;
        auto expect = in.cast(VIPS_FORMAT_FLOAT)
                          .reduce(h, v, VImage::option()->set("kernel", k))
                          .crop(0, 0, s.out_w, s.out_h);
        auto diff = (out.cast(VIPS_FORMAT_FLOAT) - expect).abs();
        if (s.out_w * s.out_h >= 15) // rounding averages a quarter of a level
          CHECK(diff.avg() < 0.35);
        CHECK(diff.max() < 0.75);
      }
    }
  }
}

TEST_CASE("loopbridge's resampler keeps the metadata, copies at scale 1, and leaves the rest to "
          "libvips",
          "[images][resample]") {
  using loopbridge::actors::detail::resamplable;
  using loopbridge::actors::detail::resample;
  auto in = textured(200, 100, 3).copy_memory();
  const std::uint8_t profile[] = {1, 2, 3, 4, 5, 6, 7, 8};
  vips_image_set_blob_copy(in.get_image(), VIPS_META_ICC_NAME, profile, sizeof profile);
  vips_image_set_int(in.get_image(), "loopbridge-test", 42);

  SECTION("the profile and the input's other metadata travel with the pixels") {
    auto out = resample(in, 50, 25, VIPS_KERNEL_CUBIC);
    const void* data = nullptr;
    std::size_t n = 0;
    REQUIRE(vips_image_get_blob(out.get_image(), VIPS_META_ICC_NAME, &data, &n) == 0);
    CHECK(std::vector<std::uint8_t>(static_cast<const std::uint8_t*>(data),
                                    static_cast<const std::uint8_t*>(data) + n) ==
          std::vector<std::uint8_t>(std::begin(profile), std::end(profile)));
    CHECK(out.get_int("loopbridge-test") == 42);
    CHECK(out.xres() == in.xres());
  }
  SECTION("at scale 1 every kernel gives the input back") {
    for (auto k : {VIPS_KERNEL_LINEAR, VIPS_KERNEL_CUBIC, VIPS_KERNEL_MITCHELL,
                   VIPS_KERNEL_LANCZOS2, VIPS_KERNEL_LANCZOS3}) {
      auto same = resample(in, 200, 100, k);
      INFO("kernel " << static_cast<int>(k));
      // Mitchell's filter is not interpolating: it blurs a little even at scale 1.
      CHECK((same.cast(VIPS_FORMAT_FLOAT) - in).abs().max() <=
            (k == VIPS_KERNEL_MITCHELL ? 40 : 0));
    }
  }
  SECTION("what it does not take") {
    CHECK_FALSE(resamplable(in, 201, 100, VIPS_KERNEL_CUBIC));  // an enlargement
    CHECK_FALSE(resamplable(in, 100, 0, VIPS_KERNEL_CUBIC));    // no pixels
    CHECK_FALSE(resamplable(in, 100, 50, VIPS_KERNEL_NEAREST)); // no continuous filter
    CHECK_FALSE(resamplable(in.cast(VIPS_FORMAT_USHORT).copy_memory(), 100, 50,
                            VIPS_KERNEL_CUBIC));                                 // 16-bit
    CHECK_FALSE(resamplable(textured(200, 100, 3), 100, 50, VIPS_KERNEL_CUBIC)); // not computed
  }
}

TEST_CASE("a JPEG thumbnail with kernel cubic is resampled by loopbridge, close to libvips' resize",
          "[images][resample][image_processor][jpeg]") {
  auto jpeg = jpeg_of(textured(1920, 1080, 3));
  auto op = image_op::thumbnail(256);
  op.kernel = "cubic";
  auto out = process_image(request(jpeg, {op}, "png"), image_settings{});
  REQUIRE(out.ok());
  REQUIRE(out->width == 256);
  REQUIRE(out->height == 144);
  // The same decode (libjpeg-turbo at 1/2 scale), resized by libvips with the same filter.
  auto half =
      VImage::new_from_buffer(jpeg.data(), jpeg.size(), "", VImage::option()->set("shrink", 2));
  auto expect = half.resize(256.0 / 960, VImage::option()->set("kernel", VIPS_KERNEL_CUBIC));
  auto got = VImage::new_from_buffer(out->data.data(), out->data.size(), "");
  auto diff = (got.cast(VIPS_FORMAT_FLOAT) - expect).abs();
  CHECK(diff.avg() < 1.0);
  CHECK(diff.max() < 16.0);
}

TEST_CASE("a direct JPEG decode fails cleanly on bad data and stops when cancelled",
          "[images][image_processor][jpeg][errors]") {
  auto jpeg = jpeg_of(textured(1920, 1080, 3));
  SECTION("a JPEG signature followed by garbage") {
    bytes bad = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    for (int i = 0; i < 4000; ++i)
      bad.push_back(static_cast<std::uint8_t>(i * 13 + 5));
    auto out = process_image(request(bad, {image_op::thumbnail(64)}), image_settings{});
    REQUIRE(out.is(image_errc::decode_failed));
    CHECK(out.error().message().rfind("cannot decode the input: ", 0) == 0);
  }
  SECTION("truncated in the middle of the scan") {
    bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() * 3 / 4));
    auto out = process_image(request(cut, {image_op::thumbnail(64)}), image_settings{});
    REQUIRE(out.is(image_errc::decode_failed));
    CHECK(out.error().message().find("Premature end") != std::string::npos);
  }
  SECTION("cancelled while decoding: the decode stops after a few rows") {
    int polls = 0;
    auto out = process_image(request(jpeg, {image_op::thumbnail(64)}), image_settings{},
                             [&] { return ++polls > 3; });
    REQUIRE(out.is(errc::cancelled));
    CHECK(polls == 4); // 3 batches of rows decoded, then it stopped
  }
  SECTION("over max_pixels: refused from the header") {
    image_settings small;
    small.max_pixels = 1000;
    auto out = process_image(request(jpeg, {image_op::thumbnail(64)}), small);
    REQUIRE(out.is(image_errc::too_large));
  }
}

TEST_CASE("quality changes the size of lossy outputs", "[images][image_processor]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img");
  auto src = make_image(800, 600, "png");
  auto low = request(src, {image_op::blur(0.8)}, "jpeg");
  low.quality = 10;
  auto high = low;
  high.quality = 95;
  auto l = img.call(low, 30s), h = img.call(high, 30s);
  REQUIRE(l.ok());
  REQUIRE(h.ok());
  CHECK(l->bytes < h->bytes);
}

TEST_CASE("corrupt and truncated images fail with decode_failed, the instance serves the next",
          "[images][image_processor][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img"); // one instance: the same one serves every request
  auto jpeg = make_image(1920, 1080, "jpeg");
  bytes garbage(5000);
  for (std::size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<std::uint8_t>(i * 7 + 3);
  auto corrupt = img.call(request(garbage, {image_op::thumbnail(256)}), 30s);
  REQUIRE(corrupt.is(image_errc::decode_failed));
  bytes truncated(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  auto cut = img.call(request(truncated, {image_op::thumbnail(256)}), 30s);
  CHECK(cut.is(image_errc::decode_failed));
  auto cut_plain = img.call(request(truncated, {image_op::grayscale()}), 30s);
  CHECK(cut_plain.is(image_errc::decode_failed));
  auto png = make_image(400, 300, "png");
  bytes png_cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() * 2 / 3));
  CHECK(img.call(request(png_cut, {image_op::resize(0.5)}), 30s).is(image_errc::decode_failed));
  auto fine = img.call(request(jpeg, {image_op::thumbnail(128)}), 30s);
  REQUIRE(fine.ok());
  CHECK(fine->width == 128);
  auto m = rt.metrics();
  CHECK(m[0].restarts == 0);
}

TEST_CASE("inputs over max_pixels are refused from their header, before decoding",
          "[images][image_processor][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img", value{{"max_pixels", 1'000'000}});
  auto big = img.call(request(make_image(1920, 1080, "jpeg"), {image_op::thumbnail(64)}), 30s);
  REQUIRE(big.is(image_errc::too_large));
  CHECK(big.error().message() == "the input is 1920x1080 (2073600 pixels); max_pixels is 1000000");
  // A header announcing 60000 x 60000 pixels: refused at once, nothing is allocated for it.
  auto claim = png_claiming(60000, 60000);
  auto t0 = std::chrono::steady_clock::now();
  auto huge = img.call(request(claim, {image_op::thumbnail(64)}), 30s);
  CHECK(huge.is(image_errc::too_large));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(img.call(request(make_image(800, 600, "jpeg"), {image_op::thumbnail(64)}), 30s).ok());
}

TEST_CASE("malformed image requests fail with loop.bad_request",
          "[images][image_processor][errors]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img");
  auto jpeg = make_image(64, 64, "jpeg");
  image_op unknown;
  unknown.op = "sharpen";
  auto u = img.call(request(jpeg, {unknown}), 30s);
  REQUIRE(u.is(errc::bad_request));
  CHECK(u.error().message() ==
        "ops[0]: unknown operation 'sharpen' (thumbnail, resize, rotate, grayscale, blur)");
  CHECK(img.call(request(jpeg, {image_op::thumbnail(0)}), 30s).is(errc::bad_request));
  CHECK(
      img.call(request(jpeg, {image_op::thumbnail(10, 10, "middle")}), 30s).is(errc::bad_request));
  CHECK(img.call(request(jpeg, {image_op::blur(-1)}), 30s).is(errc::bad_request));
  CHECK(img.call(request(jpeg, {image_op::resize(0)}), 30s).is(errc::bad_request));
  CHECK(img.call(request(jpeg, {}, "gif"), 30s).is(errc::bad_request));
  auto q = request(jpeg, {});
  q.quality = 101;
  CHECK(img.call(q, 30s).is(errc::bad_request));
  auto both = request(jpeg, {});
  both.input_path = "a.jpg";
  CHECK(img.call(both, 30s).is(errc::bad_request));
  auto path = request({}, {});
  path.input_path = "a.jpg";
  auto no_files = img.call(path, 30s);
  REQUIRE(no_files.is(errc::bad_request));
  CHECK(no_files.error().message() ==
        "input_path given, but this image_processor has no `files` directory");
}

TEST_CASE("paths are read and written under the files directory only",
          "[images][image_processor]") {
  auto scratch = scratch_dir();
  auto dir = scratch.path();
  {
    auto jpeg = make_image(1000, 500, "jpeg");
    std::ofstream{dir + "/in.jpg", std::ios::binary}.write(
        reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  }
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img", value{{"files", dir}});
  image_request r;
  r.input_path = "in.jpg";
  r.ops = {image_op::thumbnail(200)};
  r.output_path = "thumb.png";
  r.format = "png";
  auto out = img.call(r, 30s);
  REQUIRE(out.ok());
  CHECK(out->path == "thumb.png");
  CHECK(out->data.empty());
  auto written = VImage::new_from_file((dir + "/thumb.png").c_str());
  CHECK(written.width() == 200);
  CHECK(written.height() == 100);
  r.output_path = "../escape.png";
  CHECK(img.call(r, 30s).is(errc::bad_request));
  r.output_path = "missing/dir/x.png";
  CHECK(img.call(r, 30s).is(image_errc::output_failed));
  r.output_path = "";
  r.input_path = "/etc/hostname";
  CHECK(img.call(r, 30s).is(errc::bad_request));
  r.input_path = "nope.jpg";
  CHECK(img.call(r, 30s).is(image_errc::decode_failed));
}

TEST_CASE("a pool defaults to one instance per core plus one and spreads the work",
          "[images][image_processor][pools]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  REQUIRE(rt.spawn("img", "image_processor").ok());
  auto img = rt.actor<image_processor>("img").value();
  auto jpeg = make_image(1280, 720, "jpeg");
  std::vector<future<image_reply>> fs;
  for (int i = 0; i < 16; ++i)
    fs.push_back(img.submit(request(jpeg, {image_op::thumbnail(64)})));
  for (auto& f : fs) {
    REQUIRE(f.wait_for(60s));
    CHECK(f.get().ok());
  }
  CHECK(rt.metrics()[0].instances == std::max(1u, std::thread::hardware_concurrency()) + 1);
  // The loop counts a job when its worker reports it, just after the future resolved.
  CHECK(lbtest::eventually([&] { return rt.metrics()[0].completed == 16; }));
}

TEST_CASE("a saturated image pool applies its overflow policy",
          "[images][image_processor][pools]") {
  auto jpeg = make_image(1920, 1080, "jpeg");
  auto job = request(jpeg, {image_op::blur(3)}); // tens of milliseconds each
  auto run = [&](overflow_policy policy) {
    runtime rt{builtin_kinds(), lbtest::quick_options()};
    mailbox_spec mb;
    mb.capacity = 4;
    mb.overflow = policy;
    auto img = spawn_images(rt, "img", {}, 2, mb);
    std::vector<future<image_reply>> fs;
    for (int i = 0; i < 24; ++i)
      fs.push_back(img.submit(job));
    int ok = 0, overloaded = 0;
    for (auto& f : fs) {
      REQUIRE(f.wait_for(120s));
      auto r = f.get();
      if (r.ok())
        ++ok;
      else if (r.is(errc::overloaded))
        ++overloaded;
      else
        FAIL(r.error().to_string());
    }
    CHECK(rt.metrics()[0].max_held <= 4);
    return std::make_pair(ok, overloaded);
  };
  auto [block_ok, block_over] = run(overflow_policy::block);
  CHECK(block_ok == 24); // submitters waited for room
  CHECK(block_over == 0);
  auto [reject_ok, reject_over] = run(overflow_policy::reject);
  CHECK(reject_ok + reject_over == 24);
  CHECK(reject_over > 0);
  CHECK(reject_ok >= 4);
  auto [drop_ok, drop_over] = run(overflow_policy::drop_oldest);
  CHECK(drop_ok + drop_over == 24);
  CHECK(drop_over > 0);
}

TEST_CASE("in_order returns pool results in submission order, done events report each job",
          "[images][image_processor][groups]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto events = rt.subscribe({});
  auto img = spawn_images(rt, "img", {}, 2);
  std::vector<future<image_reply>> fs;
  std::vector<int> widths;
  for (int i = 0; i < 12; ++i) {
    // Alternate big and small inputs so later jobs often finish before earlier ones.
    int w = i % 2 == 0 ? 1920 : 160;
    widths.push_back(w);
    fs.push_back(img.submit(request(make_image(w, w / 2, "png"), {image_op::resize(0.5)})));
  }
  in_order<image_reply> results{std::move(fs)};
  std::size_t expected = 0;
  while (results.remaining() > 0) {
    auto c = results.next(60s);
    REQUIRE(c.ok());
    CHECK(c->index == expected);
    REQUIRE(c->value.ok());
    CHECK(c->value->width == widths[expected] / 2);
    ++expected;
  }
  CHECK(results.next(1s).is(errc::not_found));
  int done = 0;
  while (done < 12) {
    auto e = events.next(10s);
    REQUIRE(e.ok());
    if (std::holds_alternative<done_event>(*e)) {
      CHECK(std::get<done_event>(*e).actor == "img");
      CHECK(std::get<done_event>(*e).ok());
      ++done;
    }
  }
}

TEST_CASE("stopping an image pool with jobs queued ends every job with a result or loop.stopped",
          "[images][image_processor][shutdown]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img", {}, 2);
  auto job = request(make_image(1920, 1080, "jpeg"), {image_op::blur(4)});
  std::vector<future<image_reply>> fs;
  for (int i = 0; i < 40; ++i)
    fs.push_back(img.submit(job));
  auto stopped = rt.stop_actor("img", 300ms).get();
  REQUIRE(stopped.ok());
  int ok = 0, ended = 0;
  for (auto& f : fs) {
    REQUIRE(f.wait_for(30s));
    auto r = f.get();
    if (r.ok())
      ++ok;
    else if (r.is(errc::stopped) || r.is(errc::cancelled))
      ++ended;
    else
      FAIL(r.error().to_string());
  }
  CHECK(ok + ended == 40);
  CHECK(ended > 0);
  CHECK(stopped->completed == static_cast<std::uint64_t>(ok));
  CHECK(stopped->cancelled == static_cast<std::uint64_t>(ended));
}

TEST_CASE("a processor's ops, format and quality params apply to requests that give none",
          "[images][image_processor][params]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  value::list ops{value{{"op", "thumbnail"}, {"width", 64}, {"height", 64}, {"crop", "centre"}}};
  auto img = spawn_images(rt, "img", value{{"ops", ops}, {"format", "png"}});
  auto r = img.call(request(make_image(640, 480, "jpeg"), {}), 30s);
  REQUIRE(r.ok());
  CHECK(r->format == "png");
  CHECK(decode(r->data).width == 64);
  CHECK(decode(r->data).height == 64);
  // A request's own choices win.
  auto own = img.call(request(make_image(640, 480, "jpeg"), {image_op::resize(0.25)}, "jpeg"), 30s);
  REQUIRE(own.ok());
  CHECK(own->format == "jpeg");
  CHECK(own->width == 160);
  // Bad default chains are refused at spawn, with their paths.
  auto bad = rt.spawn("bad", "image_processor",
                      {{"ops", value::list{value{{"op", "thumbnail"}, {"widht", 5}}}}});
  REQUIRE(bad.is(errc::bad_request));
  CHECK(bad.error().message().find("params.ops[0].widht") != std::string::npos);
  auto zero = rt.spawn("zero", "image_processor", {{"ops", value::list{value{{"op", "blur"}}}}});
  REQUIRE(zero.is(errc::bad_request));
  CHECK(zero.error().message().find("sigma must be in (0, 1000]") != std::string::npos);
}

TEST_CASE("libvips compiles and frees vector code under loopbridge's lock, on many threads at once",
          "[images][image_processor][orc]") {
  // liborc 0.4.33 crashes when two threads compile, or one compiles while another frees; the
  // resamplers and convolutions below compile when built and free when their image goes.
  auto jpeg = make_image(300, 200, "jpeg");
  REQUIRE(actors::detail::orc_calls_serialised());
  CHECK(vips_vector_isenabled()); // the vector code stays on
  constexpr int threads = 4, rounds = 60;
  std::atomic<int> right{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        int width = 40 + (t * rounds + i) % 150;
        VipsBlob* blob = vips_blob_new(nullptr, jpeg.data(), jpeg.size());
        auto img = VImage::thumbnail_buffer(blob, width).gaussblur(0.5 + i % 3);
        vips_area_unref(VIPS_AREA(blob));
        VipsBlob* out = img.jpegsave_buffer();
        vips_area_unref(VIPS_AREA(out));
        if (img.width() == width)
          ++right;
      }
      vips_thread_shutdown();
    });
  for (auto& t : ts)
    t.join();
  CHECK(right == threads * rounds);
}

// -- Errors under concurrency: each from its own stage, each naming its own input ---------------

namespace {

void write_file(const std::string& path, const bytes& data) {
  std::ofstream{path, std::ios::binary}.write(reinterpret_cast<const char*>(data.data()),
                                              static_cast<std::streamsize>(data.size()));
}

/// An uncompressed RGB TIFF with its planes stored separately (PlanarConfiguration 2), made by
/// hand: libvips writes only interleaved TIFFs.
bytes planar_tiff(std::uint32_t w, std::uint32_t h) {
  image_processor::init_vips();
  bytes t = {'I', 'I', 42, 0, 8, 0, 0, 0};
  auto u16 = [&](std::uint32_t v) {
    t.push_back(static_cast<std::uint8_t>(v));
    t.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  auto u32 = [&](std::uint32_t v) {
    u16(v & 0xFFFF);
    u16(v >> 16);
  };
  constexpr std::uint32_t entries = 10, ifd_end = 8 + 2 + entries * 12 + 4;
  constexpr std::uint32_t bits_at = ifd_end, offsets_at = bits_at + 6, counts_at = offsets_at + 12,
                          pixels_at = counts_at + 12;
  auto entry = [&](std::uint32_t tag, std::uint32_t type, std::uint32_t count, std::uint32_t v) {
    u16(tag);
    u16(type);
    u32(count);
    u32(v);
  };
  u16(entries);
  entry(256, 4, 1, w);          // ImageWidth
  entry(257, 4, 1, h);          // ImageLength
  entry(258, 3, 3, bits_at);    // BitsPerSample 8, 8, 8
  entry(259, 3, 1, 1);          // no compression
  entry(262, 3, 1, 2);          // RGB
  entry(273, 4, 3, offsets_at); // StripOffsets, one strip per plane
  entry(277, 3, 1, 3);          // SamplesPerPixel
  entry(278, 4, 1, h);          // RowsPerStrip
  entry(279, 4, 3, counts_at);  // StripByteCounts
  entry(284, 3, 1, 2);          // PlanarConfiguration: separate planes
  u32(0);
  for (int i = 0; i < 3; ++i)
    u16(8);
  for (std::uint32_t p = 0; p < 3; ++p)
    u32(pixels_at + p * w * h);
  for (int p = 0; p < 3; ++p)
    u32(w * h);
  for (std::uint32_t p = 0; p < 3; ++p)
    for (std::uint32_t i = 0; i < w * h; ++i)
      t.push_back(static_cast<std::uint8_t>(p * 80 + i % 50));
  return t;
}

bytes cut(const bytes& b, double fraction) {
  return bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(b.size() * fraction));
}

/// One request of the mixed workload: what it is, what it must end with, and the marker text
/// naming its own input or output (empty when it has none).
struct mixed_case {
  image_request req;
  std::optional<error_code> expected; // none: a reply
  std::string marker;
};

/// Succeeding and failing requests of every kind, failing ones named (`marker`) after files
/// made in `dir`: a corrupt JPEG, a truncated PNG, a truncated planar TIFF, a missing file, an
/// unwritable output path; plus a result too wide for WebP and an empty input.
std::vector<mixed_case> mixed_workload(const std::string& dir) {
  auto jpeg = make_image(640, 480, "jpeg");
  auto png = make_image(400, 300, "png");
  write_file(dir + "/good.png", png);
  write_file(dir + "/planar.tif", planar_tiff(120, 80));
  auto from = [&](const std::string& path, std::vector<image_op> ops) {
    image_request r;
    r.input_path = path;
    r.ops = std::move(ops);
    return r;
  };
  image_op wide; // 20000 pixels wide: more than WebP can hold
  wide.op = "resize";
  wide.width = 20000;
  std::vector<mixed_case> cases;
  for (int i = 0; i < 8; ++i) {
    auto id = std::to_string(100 + i); // markers never contain one another
    auto bad = "bad-" + id + ".jpg", cut_png = "cut-" + id + ".png", cut_tif = "cut-" + id + ".tif",
         none = "none-" + id + ".jpg", gone = "gone-" + id;
    bytes garbage = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    for (int k = 0; k < 3000; ++k)
      garbage.push_back(static_cast<std::uint8_t>(k * 13 + i));
    write_file(dir + "/" + bad, garbage);
    write_file(dir + "/" + cut_png, cut(png, 0.6));
    write_file(dir + "/" + cut_tif, cut(planar_tiff(120, 80), 0.7));
    auto to_gone = request(jpeg, {image_op::thumbnail(64)});
    to_gone.output_path = gone + "/x.jpg";
    cases.push_back({request(jpeg, {image_op::thumbnail(64)}), std::nullopt, ""});
    cases.push_back({from("good.png", {image_op::grayscale()}), std::nullopt, ""});
    cases.push_back({from("planar.tif", {image_op::thumbnail(50)}), std::nullopt, ""});
    cases.push_back({from(bad, {image_op::thumbnail(64)}), image_errc::decode_failed, bad});
    cases.push_back({from(cut_png, {image_op::resize(0.5)}), image_errc::decode_failed, cut_png});
    cases.push_back({from(cut_tif, {image_op::thumbnail(50)}), image_errc::decode_failed, cut_tif});
    cases.push_back({from(none, {}), image_errc::decode_failed, none});
    cases.push_back({to_gone, image_errc::output_failed, gone});
    cases.push_back(
        {request(make_image(200, 2, "png"), {wide}, "webp"), image_errc::output_failed, ""});
    cases.push_back({request({}, {}), image_errc::decode_failed, ""});
  }
  return cases;
}

} // namespace

TEST_CASE("image errors come from the stage that failed and never carry another request's text",
          "[images][image_processor][errors][concurrency]") {
  auto scratch = scratch_dir();
  auto dir = scratch.path();
  auto cases = mixed_workload(dir);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto events = rt.subscribe({});
  constexpr std::uint32_t instances = 3;
  auto img = spawn_images(rt, "img", value{{"files", dir}}, instances);
  std::vector<future<image_reply>> fs;
  for (auto& c : cases)
    fs.push_back(img.submit(c.req));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    REQUIRE(fs[i].wait_for(60s));
    auto r = fs[i].get();
    INFO("case " << i << (r.ok() ? std::string{" ok"} : ": " + r.error().to_string()));
    if (!cases[i].expected) {
      CHECK(r.ok());
      continue;
    }
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(*cases[i].expected));
    CHECK_FALSE(r.error().message().empty());
    if (!cases[i].marker.empty())
      CHECK(r.error().message().find(cases[i].marker) != std::string::npos);
    for (std::size_t j = 0; j < cases.size(); ++j)
      if (j != i && !cases[j].marker.empty())
        CHECK(r.error().message().find(cases[j].marker) == std::string::npos);
  }
  // Every instance took part.
  std::set<std::uint32_t> seen;
  std::size_t done = 0;
  while (done < cases.size()) {
    auto e = events.next(10s);
    REQUIRE(e.ok());
    if (auto* d = std::get_if<done_event>(&*e)) {
      seen.insert(d->instance);
      ++done;
    }
  }
  CHECK(seen.size() == instances);
  CHECK(rt.metrics()[0].restarts == 0);
}

TEST_CASE("a truncated planar TIFF fails with decode_failed, however late it shows",
          "[images][image_processor][errors]") {
  auto whole = planar_tiff(120, 80);
  auto ok = process_image(request(whole, {image_op::thumbnail(60)}, "png"), image_settings{});
  REQUIRE(ok.ok());
  CHECK(ok->width == 60);
  for (auto& ops : std::vector<std::vector<image_op>>{
           {image_op::thumbnail(60)}, {image_op::resize(0.5)}, {}, {image_op::rotate(90)}}) {
    auto out = process_image(request(cut(whole, 0.8), ops, "png"), image_settings{});
    REQUIRE(out.is(image_errc::decode_failed));
    CHECK(out.error().message() == "cannot decode the input: libvips' tiff decoder failed on it "
                                   "(corrupt or truncated data, or a feature it lacks)");
  }
}

TEST_CASE("an empty input is decode_failed, from bytes or from a file",
          "[images][image_processor][errors]") {
  auto empty = process_image(request({}, {image_op::thumbnail(64)}), image_settings{});
  REQUIRE(empty.is(image_errc::decode_failed));
  CHECK(empty.error().message() == "cannot decode the input: it is empty");
  auto scratch = scratch_dir();
  write_file(scratch.path() + "/empty.jpg", {});
  image_settings settings;
  settings.files = scratch.path();
  image_request r;
  r.input_path = "empty.jpg";
  auto file = process_image(r, settings);
  REQUIRE(file.is(image_errc::decode_failed));
  CHECK(file.error().message() == "cannot decode input_path 'empty.jpg': it is empty");
}

TEST_CASE("messages quote the request's own text as one printable, bounded line",
          "[images][image_processor][errors]") {
  auto scratch = scratch_dir();
  image_settings settings;
  settings.files = scratch.path();
  auto jpeg = make_image(64, 48, "jpeg");
  auto from_path = [](std::string path) {
    image_request r = request({}, {image_op::thumbnail(32)});
    r.input_path = std::move(path);
    return r;
  };
  auto with_op = [&](image_op o) { return request(jpeg, {std::move(o)}); };
  image_op unknown;
  unknown.op = "sharpen\x1b[2J";
  auto kernel = image_op::thumbnail(32);
  kernel.kernel = "bi\tcubic";
  auto to_path = request(jpeg, {image_op::thumbnail(32)});
  to_path.output_path = "gone\r\n/x.png";
  struct message_case {
    const char* what;
    image_request req;
    error_code code;
    std::string expected;
  };
  std::vector<message_case> cases = {
      {"missing input file", from_path("no\x1b[2J\nsuch.jpg"), image_errc::decode_failed,
       "cannot read input_path 'no\\x1b[2J\\x0asuch.jpg': No such file or directory"},
      {"input path out of the directory", from_path("../\x07"), errc::bad_request,
       "input_path '../\\x07' climbs out of the files directory"},
      {"output directory missing", to_path, image_errc::output_failed,
       "cannot create output_path 'gone\\x0d\\x0a/x.png': No such file or directory"},
      {"unknown op", with_op(unknown), errc::bad_request,
       "ops[0]: unknown operation 'sharpen\\x1b[2J' (thumbnail, resize, rotate, grayscale, "
       "blur)"},
      {"unknown kernel", with_op(kernel), errc::bad_request,
       "ops[0] (thumbnail): unknown kernel 'bi\\x09cubic' (lanczos3, lanczos2, mitchell, cubic, "
       "linear, nearest)"},
      {"unknown crop", with_op(image_op::thumbnail(32, 32, "mid\x7f")), errc::bad_request,
       "unknown crop 'mid\\x7f' (none, centre, attention, entropy)"},
      {"unknown format", request(jpeg, {}, "gif\n"), errc::bad_request,
       "unknown format 'gif\\x0a' (jpeg, png, webp)"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    auto out = process_image(c.req, settings);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().is(c.code));
    CHECK(out.error().message() == c.expected);
  }
  // A long name is cut: the message stays bounded, and never names the files directory.
  auto long_name = std::string(5000, 'a') + "\n.jpg";
  auto out = process_image(from_path(long_name), settings);
  REQUIRE(out.is(image_errc::decode_failed));
  auto& m = out.error().message();
  CHECK(m.size() < 200);
  CHECK(m.find("...'") != std::string::npos);
  CHECK(std::none_of(m.begin(), m.end(),
                     [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }));
  auto missing_dir = request(jpeg, {image_op::thumbnail(32)});
  missing_dir.output_path = "missing/dir/x.png";
  auto written = process_image(missing_dir, settings);
  REQUIRE(written.is(image_errc::output_failed));
  CHECK(written.error().message().find(scratch.path()) == std::string::npos);
}

// -- JPEGs the libjpeg-turbo path refuses go to libvips' loader --------------------------------

namespace {

/// The bytes of a blob libvips returned (the blob is freed).
bytes take(VipsBlob* blob) {
  std::size_t n;
  auto* p = static_cast<const std::uint8_t*>(vips_blob_get(blob, &n));
  bytes out(p, p + n);
  vips_area_unref(VIPS_AREA(blob));
  return out;
}

/// `jpeg` with `junk` inserted before the marker that follows its first segment.
bytes junk_before_header_marker(bytes jpeg, const bytes& junk) {
  REQUIRE(jpeg[2] == 0xFF); // the first segment's marker (APPn, DQT, ...), then its length
  std::size_t next = 4 + ((jpeg[4] << 8) | jpeg[5]);
  REQUIRE(jpeg[next] == 0xFF);
  jpeg.insert(jpeg.begin() + static_cast<std::ptrdiff_t>(next), junk.begin(), junk.end());
  return jpeg;
}

/// `jpeg` with `junk` inserted before its end marker.
bytes junk_before_end(bytes jpeg, const bytes& junk) {
  REQUIRE(jpeg[jpeg.size() - 2] == 0xFF);
  REQUIRE(jpeg[jpeg.size() - 1] == 0xD9);
  jpeg.insert(jpeg.end() - 2, junk.begin(), junk.end());
  return jpeg;
}

bytes without_end_marker(bytes jpeg) {
  REQUIRE(jpeg[jpeg.size() - 1] == 0xD9);
  jpeg.resize(jpeg.size() - 2);
  return jpeg;
}

/// Whether libjpeg-turbo decodes `jpeg` (strictly, as the direct path does).
bool direct_decoder_takes(const bytes& jpeg) {
  using loopbridge::actors::detail::jpeg_decoder;
  try {
    jpeg_decoder d;
    d.read_header(jpeg.data(), jpeg.size());
    if (!d.plain())
      return false;
    (void)d.decode(2, {});
    return true;
  } catch (const loopbridge::actors::detail::jpeg_error&) {
    return false;
  }
}

} // namespace

TEST_CASE("JPEGs the direct decoder refuses and libvips decodes are libvips' thumbnails",
          "[images][image_processor][jpeg]") {
  auto jpeg = jpeg_of(textured(640, 480, 3));
  REQUIRE(direct_decoder_takes(jpeg));
  struct shape {
    const char* what;
    bytes input;
  };
  std::vector<shape> shapes = {
      {"extraneous bytes before a header marker", junk_before_header_marker(jpeg, {1, 2, 3})},
      {"extraneous bytes before the end marker", junk_before_end(jpeg, bytes(40, 0x5A))},
  };
  for (auto& s : shapes) {
    INFO(s.what);
    CHECK_FALSE(direct_decoder_takes(s.input));
    auto out =
        process_image(request(s.input, {image_op::thumbnail(256)}, "jpeg"), image_settings{});
    INFO((out.ok() ? std::string{} : out.error().to_string()));
    REQUIRE(out.ok());
    CHECK(out->width == 256);
    CHECK(out->height == 192);
    CHECK(out->data == libvips_thumbnail(s.input, image_op::thumbnail(256)));
  }
}

TEST_CASE("a single-scan JPEG missing only its end marker decodes, a cut-short scan does not",
          "[images][image_processor][jpeg]") {
  // libvips' loader (with fail_on=error) fails wherever the data runs out, even if all that is
  // missing is the end marker; libjpeg decoding the whole scan tells the two apart.
  auto jpeg = jpeg_of(textured(640, 480, 3));
  auto no_end = without_end_marker(jpeg);
  CHECK(direct_decoder_takes(no_end));
  auto scratch = scratch_dir();
  write_file(scratch.path() + "/no-end.jpg", no_end);
  image_settings settings;
  settings.files = scratch.path();
  auto from_file = [](std::vector<image_op> ops) {
    image_request r;
    r.input_path = "no-end.jpg";
    r.ops = std::move(ops);
    r.format = "png";
    return r;
  };
  auto whole = process_image(request(jpeg, {image_op::grayscale()}, "png"), settings);
  REQUIRE(whole.ok());
  for (auto& req : {request(no_end, {image_op::thumbnail(256)}, "png"), // libjpeg-turbo
                    request(no_end, {image_op::grayscale()}, "png"),    // libvips' loader
                    from_file({image_op::thumbnail(256)}), from_file({image_op::grayscale()})}) {
    INFO(req.ops[0].op << (req.input_path.empty() ? " of bytes" : " of a file"));
    auto out = process_image(req, settings);
    INFO((out.ok() ? std::string{} : out.error().to_string()));
    REQUIRE(out.ok());
    if (req.ops[0].op == "grayscale")
      CHECK(out->data == whole->data); // the same pixels as with the marker
    else
      CHECK(out->width == 256);
  }
  // Cut inside the scan: truncated, on either path.
  auto cut_short = cut(jpeg, 0.8);
  for (auto& ops :
       std::vector<std::vector<image_op>>{{image_op::thumbnail(256)}, {image_op::grayscale()}}) {
    auto out = process_image(request(cut_short, ops, "png"), settings);
    REQUIRE(out.is(image_errc::decode_failed));
    CHECK(out.error().message() == "cannot decode the input: Premature end of JPEG file");
  }
  // A progressive JPEG without its end marker may lack scans: refused, with libjpeg's reason.
  auto progressive =
      take(textured(640, 480, 3)
               .jpegsave_buffer(VImage::option()->set("interlace", true)->set("Q", 85)));
  auto broken = process_image(request(without_end_marker(progressive), {image_op::thumbnail(64)}),
                              image_settings{});
  REQUIRE(broken.is(image_errc::decode_failed));
  CHECK(broken.error().message() == "cannot decode the input: Premature end of JPEG file");
}

// -- Colour ---------------------------------------------------------------------------------

namespace {

/// A flat picture of one sRGB colour.
VImage flat(int w, int h, std::vector<double> rgb) {
  image_processor::init_vips();
  return (VImage::black(w, h, VImage::option()->set("bands", 3)) + rgb)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

constexpr double red = 200, green = 70, blue = 40;

/// A flat picture of (red, green, blue) in sRGB, converted to `profile` (libvips' built-in
/// `p3` or `cmyk`) with that profile embedded, encoded as `format` (`jpeg` or `png`).
bytes tagged_picture(const std::string& profile, const std::string& format, bool embed = true) {
  auto img = flat(320, 240, {red, green, blue}).icc_transform(profile.c_str());
  auto opts = VImage::option()->set("strip", !embed);
  return take(format == "png" ? img.pngsave_buffer(opts) : img.jpegsave_buffer(opts->set("Q", 95)));
}

/// The centre pixel of an encoded image, its bands and whether it embeds a profile.
struct sample {
  std::vector<double> pixel;
  int bands = 0;
  VipsInterpretation interpretation = VIPS_INTERPRETATION_ERROR;
  bytes profile;
};
sample sample_of(const bytes& encoded) {
  auto img = VImage::new_from_buffer(encoded.data(), encoded.size(), "");
  sample s;
  s.pixel = img.getpoint(img.width() / 2, img.height() / 2);
  s.bands = img.bands();
  s.interpretation = img.interpretation();
  if (img.get_typeof(VIPS_META_ICC_NAME) != 0) {
    const void* p = nullptr;
    std::size_t n = 0;
    vips_image_get_blob(img.get_image(), VIPS_META_ICC_NAME, &p, &n);
    s.profile.assign(static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + n);
  }
  return s;
}

/// Whether `p` is within `tolerance` of (r, g, b) in every band.
bool near(const std::vector<double>& p, double r, double g, double b, double tolerance) {
  return p.size() >= 3 && std::abs(p[0] - r) <= tolerance && std::abs(p[1] - g) <= tolerance &&
         std::abs(p[2] - b) <= tolerance;
}

/// The profile's colour space signature (`RGB `, `GRAY`, `CMYK`), or empty.
std::string profile_space(const bytes& profile) {
  return profile.size() < 20 ? "" : std::string(profile.begin() + 16, profile.begin() + 20);
}

bytes builtin_profile(const char* name) {
  VipsBlob* blob = nullptr;
  REQUIRE(vips_profile_load(name, &blob, nullptr) == 0);
  return take(blob);
}

} // namespace

TEST_CASE("tagged input is converted to sRGB through its profile, after the shrink",
          "[images][image_processor][colour]") {
  auto p3_jpeg = tagged_picture("p3", "jpeg"), p3_png = tagged_picture("p3", "png");
  // The P3 pixels are not the sRGB ones: a processor that ignored the profile would show it.
  auto as_stored = sample_of(p3_png);
  REQUIRE_FALSE(near(as_stored.pixel, red, green, blue, 8));
  REQUIRE(as_stored.profile == builtin_profile("p3"));
  struct input_case {
    const char* what;
    bytes input;
    std::vector<image_op> ops;
  };
  std::vector<input_case> cases = {
      {"JPEG thumbnail (libjpeg-turbo, then libvips' thumbnail)",
       p3_jpeg,
       {image_op::thumbnail(64)}},
      {"PNG thumbnail (libvips' thumbnail)", p3_png, {image_op::thumbnail(64)}},
      {"PNG, no thumbnail", p3_png, {image_op::resize(0.5)}},
      {"JPEG, no ops", p3_jpeg, {}},
  };
  for (auto& c : cases) {
    INFO(c.what);
    auto out = process_image(request(c.input, c.ops, "png"), image_settings{});
    REQUIRE(out.ok());
    auto s = sample_of(out->data);
    CHECK(s.bands == 3);
    CHECK(near(s.pixel, red, green, blue, 4));
    CHECK((s.profile.empty() || s.profile == builtin_profile("srgb")));
  }
  // The direct JPEG path gives libvips' own colour-managed thumbnail, byte for byte.
  VipsBlob* in = vips_blob_new(nullptr, p3_jpeg.data(), p3_jpeg.size());
  auto theirs = VImage::thumbnail_buffer(in, 64, VImage::option()->set("export_profile", "srgb"));
  vips_area_unref(VIPS_AREA(in));
  auto mine = process_image(request(p3_jpeg, {image_op::thumbnail(64)}, "jpeg"), image_settings{});
  REQUIRE(mine.ok());
  CHECK(mine->data ==
        take(theirs.jpegsave_buffer(VImage::option()->set("Q", 80)->set("strip", true))));
}

TEST_CASE("keep_input_profile keeps a tagged input's profile and pixels",
          "[images][image_processor][colour]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img", value{{"keep_input_profile", true}});
  auto p3 = tagged_picture("p3", "png");
  auto as_stored = sample_of(p3).pixel;
  for (auto format : {"png", "jpeg", "webp"}) {
    INFO(format);
    auto out = img.call(request(p3, {image_op::thumbnail(64)}, format), 30s);
    REQUIRE(out.ok());
    auto s = sample_of(out->data);
    CHECK(s.profile == builtin_profile("p3"));
    CHECK(near(s.pixel, as_stored[0], as_stored[1], as_stored[2], 4));
  }
  // A profile that no longer fits the pixels (grey output of a colour profile) is dropped.
  auto grey = img.call(request(p3, {image_op::grayscale()}, "png"), 30s);
  REQUIRE(grey.ok());
  CHECK(sample_of(grey->data).bands == 1);
  CHECK(sample_of(grey->data).profile.empty());
  // Untagged input stays untagged.
  auto plain = img.call(request(make_image(100, 80, "jpeg"), {image_op::thumbnail(50)}), 30s);
  REQUIRE(plain.ok());
  CHECK(sample_of(plain->data).profile.empty());
}

TEST_CASE("CMYK input becomes sRGB through its profile, whatever the processor keeps",
          "[images][image_processor][colour]") {
  auto tagged = tagged_picture("cmyk", "jpeg");
  auto untagged = tagged_picture("cmyk", "jpeg", false); // libvips' CMYK profile is assumed
  REQUIRE(VImage::new_from_buffer(tagged.data(), tagged.size(), "").bands() == 4);
  REQUIRE(VImage::new_from_buffer(tagged.data(), tagged.size(), "").interpretation() ==
          VIPS_INTERPRETATION_CMYK);
  for (bool keep : {false, true}) {
    image_settings settings;
    settings.keep_input_profile = keep;
    for (auto* input : {&tagged, &untagged}) {
      for (auto& ops :
           std::vector<std::vector<image_op>>{{image_op::thumbnail(64)}, {image_op::resize(0.5)}}) {
        INFO("keep " << keep << (input == &tagged ? ", tagged, " : ", untagged, ") << ops[0].op);
        auto out = process_image(request(*input, ops, "jpeg"), settings);
        REQUIRE(out.ok());
        auto s = sample_of(out->data);
        CHECK(s.bands == 3);
        CHECK(s.interpretation == VIPS_INTERPRETATION_sRGB);
        CHECK(near(s.pixel, red, green, blue, 10));
        if (keep)
          CHECK(profile_space(s.profile) == "RGB ");
      }
    }
  }
}

TEST_CASE("outputs carry none of the input's metadata, in every format",
          "[images][image_processor][colour]") {
  // An EXIF block naming its artist, and the P3 profile; libvips' loader reads both.
  auto tagged = flat(200, 100, {red, green, blue}).icc_transform("p3");
  tagged.set("exif-ifd0-Artist", "loopbridge-artist-marker");
  auto input = take(tagged.jpegsave_buffer(VImage::option()->set("strip", false)));
  auto contains = [](const bytes& b, const std::string& text) {
    return std::search(b.begin(), b.end(), text.begin(), text.end()) != b.end();
  };
  REQUIRE(contains(input, "loopbridge-artist-marker"));
  for (bool keep : {false, true}) {
    image_settings settings;
    settings.keep_input_profile = keep;
    for (auto format : {"jpeg", "png", "webp"}) {
      INFO(format << (keep ? ", keeping the profile" : ""));
      auto out = process_image(request(input, {image_op::resize(0.5)}, format), settings);
      REQUIRE(out.ok());
      CHECK_FALSE(contains(out->data, "loopbridge-artist-marker"));
      CHECK(sample_of(out->data).profile == (keep ? builtin_profile("p3") : bytes{}));
    }
  }
}

TEST_CASE("untagged and tagged JPEG thumbnails keep the direct libjpeg-turbo path",
          "[images][image_processor][colour][jpeg]") {
  using loopbridge::actors::detail::direct_jpeg_decodes;
  auto untagged = jpeg_of(textured(640, 480, 3));
  auto p3 = tagged_picture("p3", "jpeg");
  auto rotated = jpeg_of(textured(640, 480, 3), 6);
  struct path_case {
    const char* what;
    const bytes* input;
    bool keep_profile;
    bool direct;
  };
  std::vector<path_case> cases = {
      {"untagged", &untagged, false, true},
      {"tagged, converted to sRGB", &p3, false, true},
      {"tagged, profile kept", &p3, true, true},
      {"EXIF orientation: libvips' loader", &rotated, false, false},
  };
  for (auto& c : cases) {
    INFO(c.what);
    image_settings settings;
    settings.keep_input_profile = c.keep_profile;
    auto before = direct_jpeg_decodes();
    auto out = process_image(request(*c.input, {image_op::thumbnail(64)}, "jpeg"), settings);
    REQUIRE(out.ok());
    CHECK(direct_jpeg_decodes() - before == (c.direct ? 1U : 0U));
  }
  // Untagged input gets no colour work: libvips' own thumbnail, no profile added.
  auto out = process_image(request(untagged, {image_op::thumbnail(64)}, "jpeg"), image_settings{});
  REQUIRE(out.ok());
  CHECK(out->data == libvips_thumbnail(untagged, image_op::thumbnail(64)));
  CHECK(sample_of(out->data).profile.empty());
}

// -- Input formats ------------------------------------------------------------------------

TEST_CASE("input formats outside input_formats are refused before decoding",
          "[images][image_processor][formats]") {
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img");
  auto text = [](const std::string& s) { return bytes(s.begin(), s.end()); };
  auto svg = text("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" "
                  "height=\"64\"><rect width=\"64\" height=\"64\" fill=\"red\"/></svg>");
  auto pdf = text("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF\n");
  auto r = img.call(request(svg, {image_op::thumbnail(32)}), 30s);
  REQUIRE(r.is(image_errc::unsupported_format));
  CHECK(r.error().message() == "the input is svg, which this image_processor does not accept "
                               "(input_formats: jpeg, png, webp, gif, tiff, heif)");
  auto p = img.call(request(pdf, {image_op::thumbnail(32)}), 30s);
  REQUIRE(p.is(image_errc::unsupported_format));
  CHECK(p.error().message().rfind("the input is pdf,", 0) == 0);
  CHECK(img.call(request(make_image(64, 48, "png"), {image_op::thumbnail(32)}), 30s).ok());
  CHECK(img.call(request(make_image(64, 48, "webp"), {image_op::thumbnail(32)}), 30s).ok());
  // Bytes no loader recognises are not an image at all.
  auto junk = img.call(request(text("hello, this is not an image"), {}), 30s);
  REQUIRE(junk.is(image_errc::decode_failed));
  CHECK(junk.error().message() ==
        "cannot decode the input: it is in no image format libvips knows");

  // The param restricts further.
  auto only_jpeg = spawn_images(rt, "jpeg_only", value{{"input_formats", value::list{"jpeg"}}});
  auto png = only_jpeg.call(request(make_image(64, 48, "png"), {}), 30s);
  REQUIRE(png.is(image_errc::unsupported_format));
  CHECK(png.error().message() ==
        "the input is png, which this image_processor does not accept (input_formats: jpeg)");
  CHECK(only_jpeg.call(request(make_image(64, 48, "jpeg"), {}), 30s).ok());
  // Names outside the acceptable formats are refused at spawn.
  auto bad = rt.spawn("bad", "image_processor", {{"input_formats", value::list{"jpeg", "svg"}}});
  REQUIRE(bad.is(errc::bad_request));
  CHECK(bad.error().message().find("input_formats[1]") != std::string::npos);
  CHECK(rt.spawn("none", "image_processor", {{"input_formats", value::list{}}})
            .is(errc::bad_request));
}

TEST_CASE("libvips' loaders of other formats are blocked in the whole process",
          "[images][image_processor][formats]") {
  image_processor::init_vips();
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"/>";
  CHECK_THROWS_AS(VImage::new_from_buffer(svg.data(), svg.size(), ""), vips::VError);
  auto png = make_image(8, 8, "png");
  CHECK(VImage::new_from_buffer(png.data(), png.size(), "").width() == 8);
}

// -- Memory --------------------------------------------------------------------------------

namespace {

/// A field of /proc/self/status in kB (VmRSS, VmHWM), or -1.
std::int64_t status_kb(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stoll(line.substr(field.size() + 1));
  return -1;
}

/// Resets the process's peak resident size (VmHWM) to its current one; false if not allowed.
bool reset_peak_rss() {
  std::ofstream out{"/proc/self/clear_refs"};
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

/// A smooth `w` x `w` picture as a progressive JPEG (4:2:0): small to send, but libjpeg keeps
/// 3 bytes of coefficients per pixel to decode it.
bytes progressive_jpeg(int w) {
  image_processor::init_vips();
  auto xy = VImage::xyz(w, w);
  auto img = (xy.extract_band(0) * (255.0 / w))
                 .bandjoin(xy.extract_band(1) * (255.0 / w))
                 .bandjoin(128)
                 .cast(VIPS_FORMAT_UCHAR)
                 .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return take(img.jpegsave_buffer(VImage::option()->set("interlace", true)->set("Q", 75)));
}

} // namespace

TEST_CASE("the JPEG decoder knows the coefficient memory of a multi-scan file",
          "[images][image_processor][memory]") {
  using loopbridge::actors::detail::jpeg_decoder;
  jpeg_decoder progressive;
  auto p = progressive_jpeg(1000);
  progressive.read_header(p.data(), p.size());
  // 4:2:0, MCUs of 2 x 2 luma blocks: 125 luma blocks a side, rounded up to 126; 63 chroma
  // blocks a side (62.5 rounded up), two chroma planes; 64 coefficients of 2 bytes a block.
  CHECK(progressive.coefficient_bytes() == (126 * 126 + 2 * 63 * 63) * 128);
  jpeg_decoder baseline;
  auto b = make_image(1000, 1000, "jpeg");
  baseline.read_header(b.data(), b.size());
  CHECK(baseline.coefficient_bytes() == 0);
}

TEST_CASE("a pool decoding progressive JPEGs stays within its stated memory bound",
          "[images][image_processor][memory]") {
  // Each 4000 x 4000 progressive JPEG holds 48 MB of coefficients while decoding; 5000 x 5000
  // would hold 75 MB, over the budget: refused from its header.
  constexpr std::int64_t budget = 64 << 20;
  constexpr std::uint32_t instances = 3;
  auto fits = progressive_jpeg(4000), over = progressive_jpeg(5000);
  runtime rt{builtin_kinds(), lbtest::quick_options()};
  auto img = spawn_images(rt, "img", value{{"max_decode_memory", budget}}, instances);
  auto before_kb = status_kb("VmRSS");
  bool peak_reset = reset_peak_rss();
  std::vector<future<image_reply>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(img.submit(request(fits, {image_op::thumbnail(200)})));
  for (int i = 0; i < 2; ++i)
    fs.push_back(img.submit(request(over, {image_op::thumbnail(200)})));
  for (std::size_t i = 0; i < fs.size(); ++i) {
    REQUIRE(fs[i].wait_for(60s));
    auto r = fs[i].get();
    if (i < 6) {
      REQUIRE(r.ok());
      CHECK(r->width == 200);
    } else {
      REQUIRE(r.is(image_errc::too_large));
      CHECK(r.error().message() ==
            "decoding the input would hold 71.8 MiB at once (the DCT coefficients of a "
            "multi-scan (progressive) JPEG); max_decode_memory is 64.0 MiB");
    }
  }
  // The stated bound (see image_processor): per instance, max_decode_memory plus a few MB of
  // working memory and its request's bytes.
  auto grown_mb = static_cast<double>(status_kb("VmHWM") - before_kb) / 1024.0;
  INFO("peak growth " << grown_mb << " MiB");
#if defined(__SANITIZE_ADDRESS__)
  WARN("AddressSanitizer keeps freed memory in quarantine: the bound is not measured here");
#else
  REQUIRE(peak_reset);
  CHECK(grown_mb >= 45); // at least one decode's coefficients: the measurement sees them
  CHECK(grown_mb <= instances * (64 + 16));
#endif
}
