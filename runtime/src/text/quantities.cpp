// Durations and sizes written as text ("250ms", "1.5s", "64KiB"): parsing them and writing them
// back, for params, config files and messages.
#include "loopbridge/params.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>

namespace loopbridge {

namespace {

/// Splits "12.5ms" into 12.5 and "ms"; false if there is no leading number.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0)
    return false;
  std::string digits{text.substr(0, i)};
  if (std::count(digits.begin(), digits.end(), '.') > 1)
    return false;
  char* end = nullptr;
  number = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size())
    return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return true;
}

/// A unit the parsers accept and what one of it is worth (nanoseconds, bytes).
struct unit_factor {
  std::string_view name;
  double factor;
};

constexpr unit_factor duration_units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},   {"ms", 1e6},
                                          {"s", 1e9}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
/// No unit: bytes.
constexpr unit_factor size_units[] = {
    {"", 1},     {"B", 1},    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
    {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6},     {"GB", 1e9}};

/// What `name` is worth in `units`; nothing for a unit not in the table.
template <std::size_t N>
std::optional<double> factor_of(std::string_view name, const unit_factor (&units)[N]) {
  for (auto& u : units)
    if (u.name == name)
      return u.factor;
  return std::nullopt;
}

} // namespace

std::optional<value::duration> parse_duration(std::string_view text) {
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  if (text == "0")
    return value::duration::zero();
  double n;
  std::string_view unit;
  if (!split_number(text, n, unit))
    return std::nullopt;
  auto ns_per_unit = factor_of(unit, duration_units);
  if (!ns_per_unit)
    return std::nullopt;
  double ns = n * *ns_per_unit;
  if (!std::isfinite(ns) || ns > 1e18)
    return std::nullopt;
  return value::duration{static_cast<std::int64_t>(std::llround(ns))};
}

std::string format_duration(value::duration d) {
  auto ns = d.count();
  if (ns == 0)
    return "0s";
  struct unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr unit units[] = {{3600000000000, "h"}, {60000000000, "m"}, {1000000000, "s"},
                                   {1000000, "ms"},      {1000, "us"},       {1, "ns"}};
  for (auto& u : units)
    if (ns % u.ns == 0)
      return std::to_string(ns / u.ns) + u.name;
  return std::to_string(ns) + "ns";
}

std::string readable_duration(value::duration d) {
  auto ns = static_cast<double>(d.count());
  struct unit {
    double ns;
    const char* name;
  };
  static constexpr unit units[] = {
      {3600e9, "h"}, {60e9, "min"}, {1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
  for (auto& u : units)
    if (std::abs(ns) >= u.ns) {
      auto v = ns / u.ns;
      char buf[32];
      std::snprintf(buf, sizeof buf,
                    v >= 100  ? "%.0f%s"
                    : v >= 10 ? "%.1f%s"
                              : "%.2f%s",
                    v, u.name);
      return buf;
    }
  return std::to_string(d.count()) + "ns";
}

std::optional<std::int64_t> parse_size(std::string_view text) {
  double n;
  std::string_view unit;
  if (!split_number(text, n, unit))
    return std::nullopt;
  auto mult = factor_of(unit, size_units);
  if (!mult)
    return std::nullopt;
  double bytes = n * *mult;
  if (!std::isfinite(bytes) || bytes > 9e18 || bytes != std::floor(bytes))
    return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

} // namespace loopbridge
