#include "value_match.hpp"

#include <cstdlib>

#include "loopbridge/params.hpp"

namespace loopbridge::testing::detail {

namespace {

std::string at(const std::string& path) {
  return path.empty() ? std::string{} : path + ": ";
}

bool is_number(const value& v) {
  return v.is_integer() || v.is_number();
}

std::string differs(const std::string& path, const std::string& expected, const value& actual) {
  return at(path) + "expected " + expected + ", got " + actual.to_string();
}

std::optional<std::string> map_mismatch(const value& expected, const value& actual,
                                        const std::string& path) {
  if (!actual.is_map())
    return at(path) + "expected a map, got " + actual.to_string();
  for (auto& [key, want] : expected.as_map()) {
    auto sub = path.empty() ? key : path + "." + key;
    auto* got = actual.find(key);
    if (!got)
      return sub + ": missing";
    if (auto why = mismatch(want, *got, sub))
      return why;
  }
  return std::nullopt;
}

std::optional<std::string> list_mismatch(const value& expected, const value& actual,
                                         const std::string& path) {
  if (!actual.is_list() || actual.as_list().size() != expected.as_list().size())
    return differs(path, expected.to_string(), actual);
  for (std::size_t i = 0; i < expected.as_list().size(); ++i)
    if (auto why = mismatch(expected.as_list()[i], actual.as_list()[i],
                            path + "[" + std::to_string(i) + "]"))
      return why;
  return std::nullopt;
}

/// A comparison on a number (">= 1", "< 100", "!= 0"): whether `actual` passes it, or nothing
/// when `comparison` is not one (then it compares as text).
std::optional<bool> compare(const std::string& comparison, double actual) {
  for (const char* op : {">=", "<=", "!=", ">", "<"}) {
    auto n = std::string{op}.size();
    if (comparison.compare(0, n, op) != 0)
      continue;
    char* end = nullptr;
    auto bound = std::strtod(comparison.c_str() + n, &end);
    if (end == comparison.c_str() + n || *end != '\0')
      return std::nullopt;
    std::string o = op;
    return o == ">="   ? actual >= bound
           : o == "<=" ? actual <= bound
           : o == "!=" ? actual != bound
           : o == ">"  ? actual > bound
                       : actual < bound;
  }
  return std::nullopt;
}

} // namespace

std::optional<std::string> mismatch(const value& expected, const value& actual,
                                    const std::string& path) {
  if (expected.is_map())
    return map_mismatch(expected, actual, path);
  if (expected.is_list())
    return list_mismatch(expected, actual, path);
  if (expected.is_string() && is_number(actual))
    if (auto ok = compare(expected.as_string(), actual.as_number()))
      return *ok ? std::nullopt : std::optional{differs(path, expected.as_string(), actual)};
  if (expected.is_string() && actual.is_duration()) // `20ms` against a duration
    if (auto d = parse_duration(expected.as_string()))
      return *d == actual.as_duration()
                 ? std::nullopt
                 : std::optional{differs(path, expected.as_string(), actual)};
  bool same = is_number(expected) && is_number(actual) ? expected.as_number() == actual.as_number()
                                                       : expected == actual;
  return same ? std::nullopt : std::optional{differs(path, expected.to_string(), actual)};
}

} // namespace loopbridge::testing::detail
