#include "file_text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <sys/stat.h>

namespace loopbridge::config::detail {

namespace {

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

void fail(std::vector<problem>& problems, const std::string& path, std::string message,
          std::string hint = {}) {
  problems.push_back({path, 1, 1, "", std::move(message), std::move(hint)});
}

} // namespace

std::optional<std::string> read_file(const std::string& path, const load_limits& limits,
                                     std::vector<problem>& problems) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    fail(problems, path, "is a directory", "give the path of a YAML file");
    return std::nullopt;
  }
  std::unique_ptr<std::FILE, file_closer> f{std::fopen(path.c_str(), "rb")};
  if (!f) {
    fail(problems, path, std::string{"cannot open the file: "} + std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  char chunk[1 << 16];
  while (text.size() <= limits.max_bytes) {
    auto got = std::fread(chunk, 1, sizeof(chunk), f.get());
    if (got == 0)
      break;
    text.append(chunk, got);
  }
  if (std::ferror(f.get())) {
    fail(problems, path, std::string{"cannot read the file: "} + std::strerror(errno));
    return std::nullopt;
  }
  if (text.size() > limits.max_bytes) {
    fail(problems, path,
         "the file is too large (more than " + std::to_string(limits.max_bytes) + " bytes)",
         "at most " + std::to_string(limits.max_bytes) + " bytes");
    return std::nullopt;
  }
  return text;
}

} // namespace loopbridge::config::detail
