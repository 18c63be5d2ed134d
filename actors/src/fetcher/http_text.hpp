#pragma once

// The ASCII text rules of HTTP the fetcher applies: blanks around header names and values,
// and letter case whatever the locale. Pure functions: any thread.

#include <cstddef>
#include <string_view>

namespace loopbridge::actors {

/// `s` without its surrounding blanks (space, tab, CR, LF): header names and values.
inline std::string_view trim_blanks(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t b = 0, e = s.size();
  while (b < e && blank(s[b]))
    ++b;
  while (e > b && blank(s[e - 1]))
    --e;
  return s.substr(b, e - b);
}

/// `c` lower-cased if it is an ASCII capital, whatever the locale (HTTP header names).
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Equal, ASCII letters compared case-insensitively (HTTP header names), whatever the locale.
inline bool ascii_iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != lower[i])
      return false;
  return true;
}

} // namespace loopbridge::actors
