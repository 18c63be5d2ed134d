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

} // namespace

bool matches(const value& expected, const value& actual, const std::string& path,
             std::string& why) {
  if (expected.is_map()) {
    if (!actual.is_map()) {
      why = at(path) + "expected a map, got " + actual.to_string();
      return false;
    }
    for (auto& [key, want] : expected.as_map()) {
      auto sub = path.empty() ? key : path + "." + key;
      auto* got = actual.find(key);
      if (!got) {
        why = sub + ": missing";
        return false;
      }
      if (!matches(want, *got, sub, why))
        return false;
    }
    return true;
  }
  if (expected.is_list()) {
    if (!actual.is_list() || actual.as_list().size() != expected.as_list().size()) {
      why = at(path) + "expected " + expected.to_string() + ", got " + actual.to_string();
      return false;
    }
    for (std::size_t i = 0; i < expected.as_list().size(); ++i)
      if (!matches(expected.as_list()[i], actual.as_list()[i], path + "[" + std::to_string(i) + "]",
                   why))
        return false;
    return true;
  }
  // A comparison on a number: ">= 1", "< 100", "!= 0".
  if (expected.is_string() && is_number(actual)) {
    const auto& e = expected.as_string();
    for (const char* op : {">=", "<=", "!=", ">", "<"}) {
      auto n = std::string{op}.size();
      if (e.compare(0, n, op) != 0)
        continue;
      char* end = nullptr;
      auto bound = std::strtod(e.c_str() + n, &end);
      if (end == e.c_str() + n || *end != '\0')
        break; // not a number after the operator: compare as text below
      auto got = actual.as_number();
      std::string o = op;
      bool ok = o == ">="   ? got >= bound
                : o == "<=" ? got <= bound
                : o == "!=" ? got != bound
                : o == ">"  ? got > bound
                            : got < bound;
      if (!ok)
        why = at(path) + "expected " + e + ", got " + actual.to_string();
      return ok;
    }
  }
  if (expected.is_string() && actual.is_duration()) // `20ms` against a duration
    if (auto d = parse_duration(expected.as_string())) {
      if (*d != actual.as_duration())
        why = at(path) + "expected " + expected.as_string() + ", got " + actual.to_string();
      return *d == actual.as_duration();
    }
  bool same = is_number(expected) && is_number(actual) ? expected.as_number() == actual.as_number()
                                                       : expected == actual;
  if (!same)
    why = at(path) + "expected " + expected.to_string() + ", got " + actual.to_string();
  return same;
}

} // namespace loopbridge::testing::detail
