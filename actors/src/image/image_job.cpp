#include "image/image_job.hpp"

#include "image/image_failure.hpp"
#include "image/image_ops.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors::detail {

namespace {

/// Resolves `rel` under `root`: refuses absolute paths, `..` and empty names.
std::string under(const std::string& root, const std::string& rel, const char* what) {
  if (root.empty())
    refuse(std::string{what} + " given, but this image_processor has no `files` directory");
  if (rel.empty() || rel[0] == '/' || rel.find('\0') != std::string::npos)
    refuse(std::string{what} + " " + quote(rel) + " must be a relative path");
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto end = rel.find('/', start);
    if (rel.compare(start, end == std::string::npos ? std::string::npos : end - start, "..") == 0)
      refuse(std::string{what} + " " + quote(rel) + " climbs out of the files directory");
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return root + "/" + rel;
}

} // namespace

std::string canonical_format(const std::string& f) {
  if (f == "jpeg" || f == "jpg" || f.rfind("jpegload", 0) == 0)
    return "jpeg";
  if (f == "png" || f.rfind("pngload", 0) == 0)
    return "png";
  if (f == "webp" || f.rfind("webpload", 0) == 0)
    return "webp";
  return {};
}

image_job image_job::prepare(image_request req, const image_settings& settings) {
  image_job job;
  if (req.ops.empty())
    req.ops = settings.ops;
  if (req.format.empty())
    req.format = settings.format;
  if (req.quality == 0)
    req.quality = settings.quality;
  if (!req.input.empty() && !req.input_path.empty())
    refuse("give input or input_path, not both");
  check_ops(req.ops);
  job.format = req.format.empty() ? std::string{} : canonical_format(req.format);
  if (!req.format.empty() && job.format.empty())
    refuse("unknown format " + quote(req.format) + " (jpeg, png, webp)");
  if (req.quality < 1 || req.quality > 100)
    refuse("quality must be 1..100");
  if (!req.input_path.empty())
    job.in_path = under(settings.files, req.input_path, "input_path");
  if (!req.output_path.empty())
    job.out_path = under(settings.files, req.output_path, "output_path");
  job.req = std::move(req);
  return job;
}

bool image_job::leading_thumbnail() const noexcept {
  return !req.ops.empty() && req.ops[0].op == "thumbnail";
}

} // namespace loopbridge::actors::detail
