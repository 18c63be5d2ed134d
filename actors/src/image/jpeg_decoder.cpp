#include "image/jpeg_decoder.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <new>

// jpeglib.h needs <cstdio> (FILE) and <cstddef> before it.
#include <jpeglib.h>
// after jpeglib.h: the message codes
#include <jerror.h>

namespace loopbridge::actors::detail {

// libjpeg reports errors through a callback that must not return: the decoder jumps back to
// the method that called libjpeg (setjmp/longjmp, the library's documented way), which turns
// it into a `jpeg_error`. No C++ object with a destructor lives in a frame that is jumped over:
// only libjpeg's own C frames are.
struct jpeg_decoder::state {
  jpeg_decompress_struct info{};
  jpeg_error_mgr errors{};
  std::jmp_buf jump{};
  char message[JMSG_LENGTH_MAX] = {};
  bool created = false;
  /// Whether warnings end the decode (while decoding pixels) or are noted (header).
  bool warnings_fatal = false;
  std::string first_warning;
  /// A single-scan file may end without its end marker (once: libjpeg supplies it).
  bool end_marker_optional = false;
  bool end_marker_missing = false;
  VipsImage* image = nullptr; ///< the image being written, until `decode` hands it out

  ~state() {
    if (created)
      jpeg_destroy_decompress(&info);
    if (image)
      g_object_unref(image);
  }

  static void on_error(j_common_ptr c) {
    auto* s = static_cast<state*>(c->client_data);
    if (s->end_marker_missing) // what failed was the inserted end marker: the data ran out
      c->err->msg_code = JWRN_JPEG_EOF;
    (*c->err->format_message)(c, s->message);
    std::longjmp(s->jump, 1);
  }
  /// Warnings (level -1: corrupt data, a premature end) fail the decode of pixels, and are noted
  /// while reading the header (up to 100, as libvips' loader); traces are ignored.
  static void on_message(j_common_ptr c, int level) {
    if (level >= 0)
      return;
    auto* s = static_cast<state*>(c->client_data);
    if (c->err->msg_code == JWRN_JPEG_EOF && s->end_marker_optional && !s->end_marker_missing) {
      // The data ran out where the end marker belongs (libjpeg inserts one). Had the scan been
      // cut short, decoding it would hit that marker early, and that warning fails the decode.
      s->end_marker_missing = true;
      return;
    }
    if (s->warnings_fatal || c->err->num_warnings >= 100)
      on_error(c);
    if (c->err->num_warnings++ == 0) {
      (*c->err->format_message)(c, s->message);
      s->first_warning = s->message;
    }
  }
};

bool looks_like_jpeg(const std::uint8_t* data, std::size_t size) noexcept {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

namespace {

constexpr char exif_signature[] = "Exif\0"; // "Exif\0\0"

/// Whether an APP1 EXIF block leaves the image upright: true without an orientation tag or
/// with orientation 1; false for any other orientation or a block too malformed to tell
/// (libvips' loader then decides what to do with it).
bool exif_upright(const std::uint8_t* p, std::size_t n) {
  if (n < 6 || std::memcmp(p, exif_signature, 6) != 0)
    return true; // APP1 that is not EXIF (XMP): no orientation
  const std::uint8_t* t = p + 6;
  std::size_t size = n - 6;
  if (size < 8)
    return false;
  bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M'))
    return false;
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    return little ? t[at] | (t[at + 1] << 8) : (t[at] << 8) | t[at + 1];
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  std::size_t ifd = u32(4);
  if (ifd > size || size - ifd < 2)
    return false;
  std::size_t entries = u16(ifd);
  for (std::size_t i = 0; i < entries; ++i) {
    std::size_t e = ifd + 2 + 12 * i;
    if (e > size || size - e < 12)
      return false;
    if (u16(e) == 0x0112) // Orientation, a SHORT stored in the value field
      return u16(e + 8) == 1;
  }
  return true;
}

} // namespace

jpeg_decoder::jpeg_decoder() : s_(std::make_unique<state>()) {
  auto& s = *s_;
  s.info.err = jpeg_std_error(&s.errors);
  s.errors.error_exit = &state::on_error;
  s.errors.emit_message = &state::on_message;
  s.info.client_data = &s;
  if (setjmp(s.jump))
    throw jpeg_error(s.message);
  jpeg_create_decompress(&s.info);
  s.created = true;
  jpeg_save_markers(&s.info, JPEG_APP0 + 1, 0xFFFF); // EXIF
  jpeg_save_markers(&s.info, JPEG_APP0 + 2, 0xFFFF); // ICC profile
}

jpeg_decoder::~jpeg_decoder() = default;

jpeg_decoder::jpeg_decoder(jpeg_decoder&&) noexcept = default;

void jpeg_decoder::read_header(const std::uint8_t* data, std::size_t size) {
  auto& s = *s_;
  if (setjmp(s.jump))
    throw jpeg_error(s.message);
  s.warnings_fatal = false;
  jpeg_mem_src(&s.info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s.info, TRUE);
  inspect_markers();
}

void jpeg_decoder::read_header(std::FILE* file) {
  auto& s = *s_;
  if (setjmp(s.jump))
    throw jpeg_error(s.message);
  s.warnings_fatal = false;
  jpeg_stdio_src(&s.info, file);
  jpeg_read_header(&s.info, TRUE);
  inspect_markers();
}

void jpeg_decoder::inspect_markers() {
  auto& info = s_->info;
  bool colours = (info.num_components == 3 &&
                  (info.jpeg_color_space == JCS_YCbCr || info.jpeg_color_space == JCS_RGB)) ||
                 (info.num_components == 1 && info.jpeg_color_space == JCS_GRAYSCALE);
  plain_ = colours && info.data_precision == 8 && s_->first_warning.empty();
  for (auto* m = info.marker_list; m && plain_; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && !exif_upright(m->data, m->data_length))
      plain_ = false;
}

const std::string& jpeg_decoder::header_warning() const noexcept {
  return s_->first_warning;
}

bool jpeg_decoder::end_marker_missing() const noexcept {
  return s_->end_marker_missing;
}

bool jpeg_decoder::single_scan() const noexcept {
  return !jpeg_has_multiple_scans(&s_->info);
}

std::uint64_t jpeg_decoder::coefficient_bytes() const noexcept {
  auto& info = s_->info;
  if (!jpeg_has_multiple_scans(&info))
    return 0;
  // As libjpeg's coefficient controller sizes its whole-image arrays: each component's blocks,
  // rounded up to whole MCUs, 64 coefficients of JCOEF each.
  std::uint64_t blocks = 0;
  for (int c = 0; c < info.num_components; ++c) {
    auto& comp = info.comp_info[c];
    auto round_up = [](std::uint64_t n, std::uint64_t m) { return (n + m - 1) / m * m; };
    blocks += round_up(comp.width_in_blocks, static_cast<std::uint64_t>(comp.h_samp_factor)) *
              round_up(comp.height_in_blocks, static_cast<std::uint64_t>(comp.v_samp_factor));
  }
  return blocks * DCTSIZE2 * sizeof(JCOEF);
}

std::uint64_t jpeg_decoder::decoded_bytes(int shrink) const noexcept {
  auto& info = s_->info;
  auto s = static_cast<std::uint64_t>(shrink);
  return (info.image_width + s - 1) / s * ((info.image_height + s - 1) / s) *
         (info.num_components == 1 ? 1U : 3U);
}

int jpeg_decoder::width() const noexcept {
  return static_cast<int>(s_->info.image_width);
}

int jpeg_decoder::height() const noexcept {
  return static_cast<int>(s_->info.image_height);
}

vips::VImage jpeg_decoder::decode(int shrink, const std::function<bool()>& stop) {
  auto& s = *s_;
  auto& info = s.info;
  if (setjmp(s.jump))
    throw jpeg_error(s.message);
  s.warnings_fatal = true;
  s.end_marker_optional = !jpeg_has_multiple_scans(&info);
  info.scale_num = 1;
  info.scale_denom = static_cast<unsigned>(shrink);
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_calc_output_dimensions(&info);

  // The resolution as libvips' loader reads it (pixels per millimetre; 1 when unknown).
  double xres = 1.0, yres = 1.0;
  if (info.saw_JFIF_marker && info.X_density != 1U && info.Y_density != 1U) {
    if (info.density_unit == 1) {
      xres = info.X_density / 25.4;
      yres = info.Y_density / 25.4;
    } else if (info.density_unit == 2) {
      xres = info.X_density / 10.0;
      yres = info.Y_density / 10.0;
    }
  }
  auto width = static_cast<int>(info.output_width);
  auto height = static_cast<int>(info.output_height);
  auto bands = static_cast<int>(info.output_components);
  s.image = vips_image_new_memory();
  vips_image_init_fields(s.image, width, height, bands, VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
                         bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, xres,
                         yres);
  if (vips_image_write_prepare(s.image) != 0)
    throw std::bad_alloc(); // the only way it fails for a memory image
  attach_icc_profile();

  jpeg_start_decompress(&info);
  constexpr int batch = 16;
  JSAMPROW rows[batch];
  while (info.output_scanline < info.output_height) {
    if (stop && stop()) {
      jpeg_abort_decompress(&info);
      return {};
    }
    auto y = static_cast<int>(info.output_scanline);
    int n = std::min(batch, height - y);
    for (int i = 0; i < n; ++i)
      rows[i] = VIPS_IMAGE_ADDR(s.image, 0, y + i);
    jpeg_read_scanlines(&info, rows, static_cast<JDIMENSION>(n));
  }
  jpeg_finish_decompress(&info);
  VipsImage* done = s.image;
  s.image = nullptr;
  return vips::VImage(done); // takes over the reference
}

void jpeg_decoder::attach_icc_profile() {
  JOCTET* profile = nullptr;
  unsigned int size = 0;
  // libjpeg-turbo reassembles the profile from its APP2 markers (saved by the constructor).
  if (jpeg_read_icc_profile(&s_->info, &profile, &size) && profile) {
    vips_image_set_blob_copy(s_->image, VIPS_META_ICC_NAME, profile, size);
    std::free(profile);
  }
}

int thumbnail_jpeg_shrink(int width, int height, int target_width, int target_height, bool fill) {
  double box_height = target_height > 0 ? target_height : target_width;
  double horizontal = static_cast<double>(width) / target_width;
  double vertical = static_cast<double>(height) / box_height;
  double shrink = fill ? std::min(horizontal, vertical) : std::max(horizontal, vertical);
  if (shrink >= 16)
    return 8;
  if (shrink >= 8)
    return 4;
  if (shrink >= 4)
    return 2;
  return 1;
}

} // namespace loopbridge::actors::detail
