#pragma once

#include <string>

#include "loopbridge/value.hpp"

namespace loopbridge::testing::detail {

/// True if `actual` matches `expected`: maps match when every expected key matches (extra keys
/// in `actual` are fine — an expectation names what it cares about); lists element by element
/// with equal lengths; numbers by value (an integer matches an equal float), or by a comparison
/// written as a string (`">= 1"`, `"< 100"`, `"!= 0"`); everything else by equality. On a mismatch,
/// `why` says where: `status: expected 200, got 503`.
bool matches(const value& expected, const value& actual, const std::string& path, std::string& why);

} // namespace loopbridge::testing::detail
