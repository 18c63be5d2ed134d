#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loopbridge {

/// The one way loopbridge echoes text it did not write (names, keys, values, URLs, file names)
/// in a message: every message stays one printable, bounded line, whatever the input holds.
/// Threads: every function here depends on its arguments only; any thread.

/// How much of a piece of text a message quotes, at most (in bytes, before escaping).
inline constexpr std::size_t quoted_max = 120;

/// `text` made printable: C0 controls (newline included), DEL, C1 controls and bytes that are
/// not valid UTF-8 become `\xNN` (one per byte); text longer than `max` bytes is cut at a
/// character boundary and ends with `...`. Valid UTF-8 above U+009F passes unchanged.
std::string printable(std::string_view text, std::size_t max = quoted_max);

/// The length of the valid UTF-8 character at `s[i]` (`i < s.size()`), with its code point in
/// `cp`; 0 if the bytes there are not valid UTF-8 (overlong forms and surrogates included).
std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t& cp);

/// `printable(text)` between single quotes: `'text'`.
std::string quote(std::string_view text);

/// The candidate closest to `word` by edit distance (case-insensitive), if it is close enough
/// to be a likely typo; empty otherwise.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// The hint for a name that is not one of `candidates`: `did you mean 'x'?` for a likely typo,
/// or empty.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

} // namespace loopbridge
