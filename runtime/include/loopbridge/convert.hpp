#pragma once

// Conversions between typed messages and the neutral `value` tree, built on the same `inspect`
// functions CAF uses. A message names its fields with `loopbridge::field("name")` annotations,
// which CAF's own inspectors skip:
//
//     template <class Inspector>
//     friend auto inspect(Inspector& f, echo_request& x) {
//       return f(caf::meta::type_name("echo_request"), field("payload"), x.payload,
//                field("delay"), x.delay);
//     }
//
// so one description serves CAF (printing, serialization), YAML scenarios and the CLI.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/meta/annotation.hpp>
#include <caf/meta/type_name.hpp>

#include "loopbridge/error.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {

// Conversions between value trees and typed messages, through the types' `inspect`. Threads:
// functions of their arguments only, callable from any thread.

/// A problem converting a value tree into a typed message: where (`delay`, `headers.accept`),
/// what, and a hint. The same shape as parameter problems.
using field_problem = param_problem;

namespace detail {

template <class T, class = void>
struct is_inspectable_struct : std::false_type {};

struct probe_inspector {
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;
  template <class... Ts>
  void operator()(Ts&&...) {}
};

template <class T>
struct is_inspectable_struct<
    T, std::void_t<decltype(inspect(std::declval<probe_inspector&>(), std::declval<T&>()))>>
    : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
/// Byte sequences of any allocator (`std::vector<std::uint8_t>`, `loopbridge::bytes`).
template <class T>
struct is_byte_vector : std::false_type {};
template <class A>
struct is_byte_vector<std::vector<std::uint8_t, A>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};

} // namespace detail

template <class T>
value to_value(const T& x);
template <class T>
bool from_value(const value& v, T& out, const std::string& path,
                std::vector<field_problem>& problems);

namespace detail {

/// Walks an `inspect` description and collects `field -> value`.
class value_writer {
public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (apply(xs), ...);
  }

  value::map fields;
  std::string type_name;

private:
  template <class T>
  void apply(const T& x) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same_v<U, caf::meta::type_name_t>) {
      type_name = x.value;
    } else if constexpr (std::is_same_v<U, field_name_t>) {
      pending_ = x.name;
    } else if constexpr (!std::is_base_of_v<caf::meta::annotation, U>) {
      auto name = pending_ ? std::string{pending_} : "field" + std::to_string(fields.size());
      pending_ = nullptr;
      fields[name] = to_value(x);
    }
  }
  const char* pending_ = nullptr;
};

/// Walks an `inspect` description and fills each named field from a map.
class value_reader {
public:
  using result_type = void;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  value_reader(const value::map& in, std::string path, std::vector<field_problem>& problems)
      : in_(in),
        path_(std::move(path)),
        problems_(problems) {}

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (apply(xs), ...);
  }

  std::vector<std::string> known;
  std::string type_name;

private:
  template <class T>
  void apply(T& x) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same_v<U, caf::meta::type_name_t>) {
      type_name = x.value;
    } else if constexpr (std::is_same_v<U, field_name_t>) {
      pending_ = x.name;
    } else if constexpr (!std::is_base_of_v<caf::meta::annotation, U>) {
      if (!pending_)
        return; // unnamed fields are not settable from a map
      std::string name = pending_;
      pending_ = nullptr;
      known.push_back(name);
      auto it = in_.find(name);
      if (it != in_.end())
        from_value(it->second, x, path_.empty() ? name : path_ + "." + name, problems_);
    }
  }
  const value::map& in_;
  std::string path_;
  std::vector<field_problem>& problems_;
  const char* pending_ = nullptr;
};

inline std::string describe_value(const value& v) {
  auto text = v.to_string();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return std::string{value::type_name(v.kind())} + " " + text;
}

inline void problem(std::vector<field_problem>& out, const std::string& path, std::string expected,
                    const value& got, std::string hint = {}) {
  out.push_back(
      {path, "expected " + std::move(expected) + ", got " + describe_value(got), std::move(hint)});
}

} // namespace detail

/// Converts a typed value (a message, a field of one, a built-in type) to a value tree.
template <class T>
value to_value(const T& x) {
  using U = std::decay_t<T>;
  if constexpr (std::is_same_v<U, value>) {
    return x;
  } else if constexpr (std::is_same_v<U, bool>) {
    return value{x};
  } else if constexpr (std::is_integral_v<U>) {
    return value{static_cast<std::int64_t>(x)};
  } else if constexpr (std::is_floating_point_v<U>) {
    return value{static_cast<double>(x)};
  } else if constexpr (std::is_enum_v<U>) {
    return value{static_cast<std::int64_t>(x)};
  } else if constexpr (std::is_same_v<U, std::string>) {
    return value{x};
  } else if constexpr (detail::is_duration<U>::value) {
    return value{std::chrono::duration_cast<value::duration>(x)};
  } else if constexpr (std::is_same_v<U, error>) {
    if (x.code().empty())
      return value{};
    return value{{"domain", x.domain()}, {"code", x.code()}, {"message", x.message()}};
  } else if constexpr (detail::is_byte_vector<U>::value) {
    return value{value::bytes(x.begin(), x.end())};
  } else if constexpr (detail::is_optional<U>::value) {
    return x ? to_value(*x) : value{};
  } else if constexpr (detail::is_vector<U>::value) {
    value::list l;
    for (auto& e : x)
      l.push_back(to_value(e));
    return value{std::move(l)};
  } else if constexpr (detail::is_string_map<U>::value) {
    value::map m;
    for (auto& [k, e] : x)
      m.emplace(k, to_value(e));
    return value{std::move(m)};
  } else {
    static_assert(detail::is_inspectable_struct<U>::value,
                  "to_value: type has no inspect() and is not a supported built-in type");
    detail::value_writer w;
    inspect(w, const_cast<U&>(x));
    return value{std::move(w.fields)};
  }
}

/// The name an `inspect` description gives its type (`echo_request`), or "".
template <class T>
std::string type_name_of() {
  if constexpr (detail::is_inspectable_struct<T>::value && std::is_default_constructible_v<T>) {
    T x{};
    detail::value_writer w;
    inspect(w, x);
    return w.type_name;
  } else {
    return {};
  }
}

/// The names of the fields an `inspect` description declares.
template <class T>
std::vector<std::string> field_names_of() {
  std::vector<std::string> out;
  if constexpr (detail::is_inspectable_struct<T>::value && std::is_default_constructible_v<T>) {
    T x{};
    detail::value_writer w;
    inspect(w, x);
    for (auto& [k, _] : w.fields)
      out.push_back(k);
  }
  return out;
}

namespace detail {

/// An integer of type `U` from `v`; a problem if `v` is no integer or `U` cannot hold it.
template <class U>
void integer_from_value(const value& v, U& out, const std::string& path,
                        std::vector<field_problem>& problems) {
  if (!v.is_integer()) {
    detail::problem(problems, path, "an integer", v);
  } else {
    auto i = v.as_integer();
    if ((std::is_unsigned_v<U> && i < 0) ||
        (sizeof(U) < 8 && (i < static_cast<std::int64_t>(std::numeric_limits<U>::min()) ||
                           i > static_cast<std::int64_t>(std::numeric_limits<U>::max()))))
      problems.push_back({path, "value " + std::to_string(i) + " is out of range", {}});
    else
      out = static_cast<U>(i);
  }
}

/// A duration of type `U` from `v`: a duration, a string with a unit, or a bare 0.
template <class U>
void duration_from_value(const value& v, U& out, const std::string& path,
                         std::vector<field_problem>& problems) {
  if (v.is_duration()) {
    out = std::chrono::duration_cast<U>(v.as_duration());
  } else if (v.is_string()) {
    if (auto d = parse_duration(v.as_string()))
      out = std::chrono::duration_cast<U>(*d);
    else
      detail::problem(problems, path, "a duration such as 250ms, 5s or 2m", v,
                      "units: ns, us, ms, s, m, h; no negative values");
  } else if (v.is_integer() && v.as_integer() == 0) {
    out = U::zero();
  } else {
    detail::problem(problems, path, "a duration such as 250ms, 5s or 2m", v,
                    "write the unit, e.g. 5s");
  }
}

/// A vector `U` from a list, each element at `path[i]`.
template <class U>
void list_from_value(const value& v, U& out, const std::string& path,
                     std::vector<field_problem>& problems) {
  if (!v.is_list()) {
    detail::problem(problems, path, "a list", v);
  } else {
    U result;
    std::size_t i = 0;
    for (auto& e : v.as_list()) {
      typename U::value_type item{};
      from_value(e, item, path + "[" + std::to_string(i++) + "]", problems);
      result.push_back(std::move(item));
    }
    out = std::move(result);
  }
}

/// A map `U` with string keys from a map, each entry at `path.key`.
template <class U>
void map_from_value(const value& v, U& out, const std::string& path,
                    std::vector<field_problem>& problems) {
  if (!v.is_map()) {
    detail::problem(problems, path, "a map", v);
  } else {
    U result;
    for (auto& [k, e] : v.as_map()) {
      typename U::mapped_type item{};
      from_value(e, item, path.empty() ? k : path + "." + k, problems);
      result.emplace(k, std::move(item));
    }
    out = std::move(result);
  }
}

/// A problem for each key of `given` that is not one of the `known` fields, with a hint.
inline void report_unknown_fields(const value::map& given, const std::vector<std::string>& known,
                                  const std::string& path, std::vector<field_problem>& problems) {
  for (auto& [k, _] : given)
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      auto suggestion = did_you_mean(k, known);
      std::string hint;
      if (!suggestion.empty())
        hint = suggestion;
      else {
        hint = "known fields:";
        for (auto& n : known)
          hint += " " + n;
      }
      problems.push_back({path.empty() ? k : path + "." + k, "unknown field", hint});
    }
}

} // namespace detail

/// Fills `out` from `v`, appending a problem (with its path) for each wrong type, value out of
/// range or unknown field; fields absent from `v` keep their value. True if nothing was wrong.
template <class T>
bool from_value(const value& v, T& out, const std::string& path,
                std::vector<field_problem>& problems) {
  using U = std::decay_t<T>;
  auto before = problems.size();
  if constexpr (std::is_same_v<U, value>) {
    out = v;
  } else if constexpr (std::is_same_v<U, bool>) {
    if (!v.is_bool())
      detail::problem(problems, path, "a boolean", v);
    else
      out = v.as_bool();
  } else if constexpr (std::is_integral_v<U>) {
    detail::integer_from_value(v, out, path, problems);
  } else if constexpr (std::is_floating_point_v<U>) {
    if (!v.is_integer() && !v.is_number())
      detail::problem(problems, path, "a number", v);
    else
      out = static_cast<U>(v.as_number());
  } else if constexpr (std::is_same_v<U, std::string>) {
    if (!v.is_string())
      detail::problem(problems, path, "a string", v);
    else
      out = v.as_string();
  } else if constexpr (detail::is_duration<U>::value) {
    detail::duration_from_value(v, out, path, problems);
  } else if constexpr (detail::is_byte_vector<U>::value) {
    if (v.is_bytes())
      out.assign(v.as_bytes().begin(), v.as_bytes().end());
    else if (v.is_string())
      out.assign(v.as_string().begin(), v.as_string().end());
    else
      detail::problem(problems, path, "bytes or a string", v);
  } else if constexpr (detail::is_optional<U>::value) {
    if (v.is_null()) {
      out.reset();
    } else {
      typename U::value_type inner{};
      if (from_value(v, inner, path, problems))
        out = std::move(inner);
    }
  } else if constexpr (detail::is_vector<U>::value) {
    detail::list_from_value(v, out, path, problems);
  } else if constexpr (detail::is_string_map<U>::value) {
    detail::map_from_value(v, out, path, problems);
  } else if constexpr (std::is_same_v<U, error> || std::is_enum_v<U>) {
    problems.push_back({path, "this field cannot be set from a value", {}});
  } else {
    static_assert(detail::is_inspectable_struct<U>::value,
                  "from_value: type has no inspect() and is not a supported built-in type");
    if (!v.is_map() && !v.is_null()) {
      detail::problem(problems, path, "a map of fields", v);
    } else {
      static const value::map empty;
      detail::value_reader r{v.is_map() ? v.as_map() : empty, path, problems};
      inspect(r, out);
      if (v.is_map())
        detail::report_unknown_fields(v.as_map(), r.known, path, problems);
    }
  }
  return problems.size() == before;
}

} // namespace loopbridge
