#pragma once

#include <optional>
#include <string>

#include "loopbridge/value.hpp"

namespace loopbridge::testing::detail {

/// Where `actual` does not match `expected` (`status: expected 200, got 503`), or nothing when
/// it matches: maps match when every expected key matches (extra keys in `actual` are fine — an
/// expectation names what it cares about); lists element by element with equal lengths; numbers
/// by value (an integer matches an equal float), or by a comparison written as a string
/// (`">= 1"`, `"< 100"`, `"!= 0"`); everything else by equality. `path` prefixes the place.
std::optional<std::string> mismatch(const value& expected, const value& actual,
                                    const std::string& path = {});

} // namespace loopbridge::testing::detail
