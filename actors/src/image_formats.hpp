#pragma once

#include <string>

namespace loopbridge::actors::detail {

/// What libvips makes of an input's first bytes (or file): the format's name, after the loader
/// that recognises it (`jpeg`, `png`, `gif`, `svg`, ...). An empty `loader` means no loader
/// recognised the input.
struct identified_format {
  std::string name;
  /// The libvips loader that decodes it (an operation's nickname, e.g. `jpegload_buffer`).
  std::string loader;
};

/// Identifies in-memory input with `vips_foreign_find_load_buffer`, decoding nothing. Any
/// thread may call it once libvips has started.
[[nodiscard]] identified_format identify_buffer(const void* data, std::size_t size);
/// Identifies a file with `vips_foreign_find_load` (which reads its first bytes).
[[nodiscard]] identified_format identify_file(const std::string& path);

} // namespace loopbridge::actors::detail
