// Build tool: turns the code blocks of one Markdown page into sources the build compiles, so a
// doc that drifts from the code fails the build or the `docs.snippets` test.
//
//   extract_snippets PAGE NAME OUT_DIR
//
// Every ```cpp block must be preceded by an annotation saying how it is checked:
//
//   <!-- compile: statements          compiled as a function body after the prelude below;
//   optional setup lines -->          the lines after the first go before it (names it uses)
//   <!-- compile: file -->            a whole source file, compiled as it stands
//   <!-- compile: mirror PATH -->     identical to PATH (relative to the repository), any language
//
// A ```cpp block without one is an error: nothing is skipped. Writes OUT_DIR/NAME.statements.cpp
// (the page's statements blocks), OUT_DIR/NAME.files.cpp (its file blocks, each in a namespace
// of its own, their #include lines first) and OUT_DIR/NAME.mirrors.inc (the mirror blocks and
// the count of blocks, read by the test). `#line` directives make compiler errors name the page
// and line. Exits 1 with `PAGE:LINE: message` on a bad page.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct block {
  int line = 0;       ///< the line of the block's first code line
  std::string how;    ///< statements, file or mirror
  std::string setup;  ///< statements: the annotation's further lines
  std::string mirror; ///< mirror: the path
  std::string text;
};

const char* prelude = R"(#include <cstdio>
#include <poll.h>
#include <string>
#include <vector>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/groups.hpp"
#include "loopbridge/runtime.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;
)";

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool write(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
  return static_cast<bool>(out);
}

std::string line_directive(int line, const std::string& page) {
  return "#line " + std::to_string(line) + " \"" + page + "\"\n";
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: extract_snippets PAGE NAME OUT_DIR\n");
    return 2;
  }
  std::string page = argv[1], name = argv[2], out_dir = argv[3];
  std::ifstream in{page};
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", page.c_str());
    return 1;
  }
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);

  std::vector<block> blocks;
  int errors = 0;
  block pending; // the last annotation, waiting for its block
  bool annotated = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto t = trim(lines[i]);
    if (t.rfind("<!-- compile:", 0) == 0) {
      pending = block{};
      annotated = true;
      std::string first = trim(t.substr(13));
      bool closed = false;
      if (first.size() >= 3 && first.compare(first.size() - 3, 3, "-->") == 0) {
        first = trim(first.substr(0, first.size() - 3));
        closed = true;
      }
      std::istringstream words{first};
      words >> pending.how >> pending.mirror;
      if (pending.how != "statements" && pending.how != "file" && pending.how != "mirror") {
        std::fprintf(stderr, "%s:%zu: unknown annotation '%s'\n", page.c_str(), i + 1,
                     pending.how.c_str());
        ++errors;
      }
      while (!closed && ++i < lines.size()) {
        auto& l = lines[i];
        auto end = l.find("-->");
        if (end != std::string::npos) {
          pending.setup += l.substr(0, end) + "\n";
          closed = true;
        } else {
          pending.setup += l + "\n";
        }
      }
      continue;
    }
    if (t.rfind("```", 0) != 0 || t.size() == 3)
      continue;
    // A fenced block opens: read it to its closing fence.
    std::string lang = trim(t.substr(3));
    block b = annotated ? pending : block{};
    b.line = static_cast<int>(i) + 2;
    for (++i; i < lines.size() && trim(lines[i]) != "```"; ++i)
      b.text += lines[i] + "\n";
    bool cpp = lang == "cpp" || lang == "c++";
    if (annotated && (cpp || b.how == "mirror")) {
      blocks.push_back(b);
    } else if (cpp) {
      std::fprintf(stderr,
                   "%s:%d: a C++ block without '<!-- compile: statements|file|mirror PATH -->'\n",
                   page.c_str(), b.line - 1);
      ++errors;
    }
    annotated = false;
  }
  if (errors)
    return 1;

  // The prelude only where it is needed: it includes the runtime's headers, slow to compile.
  bool any_statements = false;
  for (auto& b : blocks)
    any_statements = any_statements || b.how == "statements";
  std::string statements = std::string{"// Generated from "} + page + ": its statements blocks.\n" +
                           (any_statements ? prelude : "");
  std::string files_head = std::string{"// Generated from "} + page + ": its file blocks.\n";
  std::string files_body;
  std::string mirrors = "// Generated from " + page + ".\n";
  int compiled = 0, n = 0;
  for (auto& b : blocks) {
    ++n;
    if (b.how == "statements") {
      ++compiled;
      statements += "namespace doc_block_" + std::to_string(n) + " {\n" + b.setup +
                    "[[maybe_unused]] void body() {\n" + line_directive(b.line, page) + b.text +
                    "}\n} // namespace\n";
    } else if (b.how == "file") {
      ++compiled;
      std::string rest;
      std::istringstream text{b.text};
      int at = b.line;
      rest += line_directive(at, page);
      for (std::string l; std::getline(text, l); ++at) {
        if (trim(l).rfind("#include", 0) == 0) {
          files_head += line_directive(at, page) + l + "\n";
          rest += "\n";
        } else {
          rest += l + "\n";
        }
      }
      files_body += "namespace doc_block_" + std::to_string(n) + " {\n" + rest + "} // namespace\n";
    } else {
      mirrors += "{\"" + page + "\", " + std::to_string(b.line) + ", \"" + b.mirror +
                 "\", R\"lbdoc(" + b.text + ")lbdoc\"},\n";
    }
  }
  mirrors += "// compiled: " + std::to_string(compiled) + "\n";
  bool ok = write(out_dir + "/" + name + ".statements.cpp", statements) &&
            write(out_dir + "/" + name + ".files.cpp", files_head + files_body) &&
            write(out_dir + "/" + name + ".mirrors.inc", mirrors) &&
            write(out_dir + "/" + name + ".count", std::to_string(compiled) + "\n");
  if (!ok) {
    std::fprintf(stderr, "%s: cannot write to %s\n", page.c_str(), out_dir.c_str());
    return 1;
  }
  return 0;
}
