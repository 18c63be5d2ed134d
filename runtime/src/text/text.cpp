// Text helpers: printable and quoted text, UTF-8 decoding, "did you mean".
#include "loopbridge/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace loopbridge {

namespace {

void escape_bytes(std::string& out, std::string_view bytes) {
  for (char c : bytes) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
    out += hex;
  }
}

} // namespace

std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len;
  std::uint32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size())
    return 0;
  cp = c & (0xFFu >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    auto len = utf8_at(text, i, cp);
    auto step = len == 0 ? 1 : len;
    if (i + step > max) {
      out += "...";
      return out;
    }
    bool control = len == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
    if (control)
      escape_bytes(out, text.substr(i, step));
    else
      out.append(text.substr(i, step));
    i += step;
  }
  return out;
}

std::string quote(std::string_view text) {
  return "'" + printable(text) + "'";
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
      row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diag = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                           diag + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1)});
        diag = up;
      }
    }
    return row[b.size()];
  };
  if (word.size() > 64)
    return {};
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, (word.size() + 2) / 3) + 1;
  for (auto& c : candidates) {
    if (c.size() > 64 || c.size() > word.size() + best_distance ||
        word.size() > c.size() + best_distance)
      continue; // too long, or too different in length to be closer than the best so far
    auto d = distance(word, c);
    // Equally close: the first in alphabetical order, whatever the candidates' order.
    if (d < best_distance || (d == best_distance && !best.empty() && c < best)) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto guess = closest_match(word, candidates);
  return guess.empty() ? std::string{} : "did you mean " + quote(guess) + "?";
}

} // namespace loopbridge
