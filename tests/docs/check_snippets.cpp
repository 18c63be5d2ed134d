// The `docs.snippets` test: every code block of README.md and docs/ was compiled when this
// program was built (see extract_snippets.cpp); here each mirror block must equal the file it
// mirrors, and the count of compiled blocks must not be zero.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct mirror {
  const char* page;
  int line;
  const char* path;
  const char* text;
};

const mirror mirrors[] = {
#include "all.mirrors.inc"
    {nullptr, 0, nullptr, nullptr},
};

std::string read(const std::string& path, bool& ok) {
  std::ifstream in{path, std::ios::binary};
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

int main() {
  int failures = 0, compiled = 0, mirrored = 0;
  std::istringstream pages{LOOPBRIDGE_DOC_PAGES};
  for (std::string page; pages >> page;) {
    bool ok = false;
    auto count = read(std::string{LOOPBRIDGE_SNIPPET_DIR} + "/" + page + ".count", ok);
    int n = ok ? std::stoi(count) : 0;
    compiled += n;
    std::printf("docs.snippets: %-28s %d block%s compiled\n", page.c_str(), n, n == 1 ? "" : "s");
  }
  for (auto* m = mirrors; m->page; ++m) {
    ++mirrored;
    bool ok = false;
    auto file = read(std::string{LOOPBRIDGE_SOURCE_DIR} + "/" + m->path, ok);
    if (!ok) {
      std::printf("%s:%d: mirrors %s, which cannot be read\n", m->page, m->line, m->path);
      ++failures;
    } else if (file != m->text) {
      std::printf("%s:%d: differs from %s (copy the file into the block)\n", m->page, m->line,
                  m->path);
      ++failures;
    }
  }
  std::printf("docs.snippets: %d blocks compiled, %d mirrors checked, %d failed\n", compiled,
              mirrored, failures);
  if (compiled == 0) {
    std::printf("docs.snippets: no block was compiled\n");
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
