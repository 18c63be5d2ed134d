#pragma once

// What every loader message must be, whatever the input: one printable, bounded line.
#include <cstddef>
#include <string>

namespace lbfuzz {

/// The longest line a problem may print: four bounded fields (config/src/problem.cpp) and the
/// separators between them.
inline constexpr std::size_t max_line = 4 * 4096 + 64;

/// True if `line` holds no C0 control (newline included), no DEL, no C1 control (U+0080 to
/// U+009F, encoded C2 80 to C2 9F) and is at most `max_line` bytes (plus the `...` of a cut).
inline bool one_printable_line(const std::string& line) {
  if (line.size() > max_line + 4 * 3)
    return false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c == 0x7F)
      return false;
    if (c == 0xC2 && i + 1 < line.size()) {
      auto next = static_cast<unsigned char>(line[i + 1]);
      if (next >= 0x80 && next <= 0x9F)
        return false;
    }
  }
  return true;
}

/// Traps unless every problem is located and prints as one printable, bounded line.
template <class Problems>
void check_problems(const Problems& problems) {
  for (auto& p : problems)
    if (p.line < 1 || p.column < 1 || p.message.empty() || !one_printable_line(p.to_string()))
      __builtin_trap();
}

} // namespace lbfuzz
