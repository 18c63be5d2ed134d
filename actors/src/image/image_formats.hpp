#pragma once

#include <string>
#include <vector>

namespace loopbridge::actors::detail {

/// The input formats an image processor can accept, by the names its `input_formats` param
/// uses: `jpeg`, `png`, `webp`, `gif`, `tiff`, `heif` (HEIC and AVIF, where libvips has a HEIF
/// loader). Every other libvips loader (PDF, SVG, PSD through ImageMagick, FITS, ...) is blocked
/// once libvips starts (`block_other_loaders`).
const std::vector<std::string>& acceptable_input_formats();

/// What libvips makes of an input's first bytes (or file): the format's name when it is one of
/// `acceptable_input_formats`, else the name libvips' loader goes by (`svg`, `pdf`, `magick`,
/// ...) with `acceptable` false. An empty `loader` means no loader recognised the input.
struct identified_format {
  std::string name;
  /// The libvips loader that decodes it (an operation's nickname, e.g. `jpegload_buffer`).
  std::string loader;
  bool acceptable = false;
};

/// Identifies in-memory input with `vips_foreign_find_load_buffer`, decoding nothing. Any
/// thread may call it once libvips has started.
[[nodiscard]] identified_format identify_buffer(const void* data, std::size_t size);
/// Identifies a file with `vips_foreign_find_load` (which reads its first bytes).
[[nodiscard]] identified_format identify_file(const std::string& path);

/// Makes every libvips loader outside `acceptable_input_formats` unreachable in this process
/// (`vips_operation_block_set`), and every operation libvips marks untrusted
/// (`vips_block_untrusted_set`). Called once, when libvips starts.
void block_other_loaders();

} // namespace loopbridge::actors::detail
