#include "image_formats.hpp"

#include <vips/vips.h>

namespace loopbridge::actors::detail {

namespace {

/// The format a loader's nickname names: `svgload_buffer` -> `svg`.
std::string name_of_loader(const std::string& nickname) {
  auto at = nickname.find("load");
  return at == std::string::npos || at == 0 ? nickname : nickname.substr(0, at);
}

identified_format identified(const char* class_name) {
  identified_format f;
  if (class_name == nullptr)
    return f; // no loader recognised it
  if (const char* nick = vips_nickname_find(g_type_from_name(class_name)))
    f.loader = nick;
  f.name = name_of_loader(f.loader);
  return f;
}

} // namespace

identified_format identify_buffer(const void* data, std::size_t size) {
  return identified(vips_foreign_find_load_buffer(data, size));
}

identified_format identify_file(const std::string& path) {
  return identified(vips_foreign_find_load(path.c_str()));
}

} // namespace loopbridge::actors::detail
