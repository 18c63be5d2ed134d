#include "image/image_formats.hpp"

#include <vips/vips.h>

namespace loopbridge::actors::detail {

namespace {

/// An acceptable input format and the abstract libvips class its loaders derive from (the
/// file, buffer and source variants of one decoder).
struct format_family {
  const char* name;
  const char* loader_class;
};

constexpr format_family families[] = {
    {"jpeg", "VipsForeignLoadJpeg"}, {"png", "VipsForeignLoadPng"},
    {"webp", "VipsForeignLoadWebp"}, {"gif", "VipsForeignLoadNsgif"},
    {"tiff", "VipsForeignLoadTiff"}, {"heif", "VipsForeignLoadHeif"},
};

/// The format a loader's nickname names: `svgload_buffer` -> `svg`.
std::string name_of_loader(const std::string& nickname) {
  auto at = nickname.find("load");
  return at == std::string::npos || at == 0 ? nickname : nickname.substr(0, at);
}

identified_format identified(const char* class_name) {
  identified_format f;
  if (class_name == nullptr)
    return f; // no loader recognised it
  GType type = g_type_from_name(class_name);
  if (const char* nick = vips_nickname_find(type))
    f.loader = nick;
  for (auto& family : families) {
    GType base = g_type_from_name(family.loader_class);
    if (base != 0 && g_type_is_a(type, base)) {
      f.name = family.name;
      f.acceptable = true;
      return f;
    }
  }
  f.name = name_of_loader(f.loader);
  return f;
}

} // namespace

const std::vector<std::string>& acceptable_input_formats() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& family : families)
      v.emplace_back(family.name);
    return v;
  }();
  return names;
}

identified_format identify_buffer(const void* data, std::size_t size) {
  return identified(vips_foreign_find_load_buffer(data, size));
}

identified_format identify_file(const std::string& path) {
  return identified(vips_foreign_find_load(path.c_str()));
}

void block_other_loaders() {
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (auto& family : families)
    vips_operation_block_set(family.loader_class, FALSE);
}

} // namespace loopbridge::actors::detail
