#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "loopbridge/detail/byte_field.hpp"

namespace loopbridge {

namespace detail {
/// The "no error" value of an inspector's result type (CAF inspectors return an error or void).
template <class R>
R inspect_ok() {
  return R{};
}
template <>
inline void inspect_ok<void>() {}
} // namespace detail

/// A dynamically typed value: null, boolean, integer, number, string, bytes, duration, list or
/// map. It is the neutral tree that carries actor parameters (from YAML or host code), echo
/// payloads, and request fields converted from scenario files. Plain value type: not
/// thread-safe; copies are deep.
class value {
public:
  using list = std::vector<value>;
  using map = std::map<std::string, value>;
  using bytes = std::vector<std::uint8_t>;
  using duration = std::chrono::nanoseconds;

  enum class type : std::uint8_t {
    null,
    boolean,
    integer,
    number,
    string,
    bytes,
    duration,
    list,
    map
  };

  value() = default;
  value(std::nullptr_t) {}
  value(bool b) : data_(b) {}
  value(int i) : data_(std::int64_t{i}) {}
  value(long i) : data_(std::int64_t{i}) {}
  value(long long i) : data_(std::int64_t{i}) {}
  value(unsigned i) : data_(std::int64_t{i}) {}
  value(unsigned long i) : data_(static_cast<std::int64_t>(i)) {}
  value(unsigned long long i) : data_(static_cast<std::int64_t>(i)) {}
  value(double d) : data_(d) {}
  value(const char* s) : data_(std::string{s}) {}
  value(std::string s) : data_(std::move(s)) {}
  value(bytes b) : data_(std::move(b)) {}
  template <class Rep, class Period>
  value(std::chrono::duration<Rep, Period> d) : data_(std::chrono::duration_cast<duration>(d)) {}
  value(list l) : data_(std::move(l)) {}
  value(map m) : data_(std::move(m)) {}
  /// A map from `{key, value}` pairs: `value{{"delay", 5ms}, {"count", 2}}`.
  value(std::initializer_list<std::pair<const std::string, value>> entries) : data_(map(entries)) {}

  type kind() const noexcept { return static_cast<type>(data_.index()); }
  /// The name of a type, as used in error messages and param declarations.
  static const char* type_name(type t) noexcept;

  bool is_null() const noexcept { return kind() == type::null; }
  bool is_bool() const noexcept { return kind() == type::boolean; }
  bool is_integer() const noexcept { return kind() == type::integer; }
  bool is_number() const noexcept { return kind() == type::number; }
  bool is_string() const noexcept { return kind() == type::string; }
  bool is_bytes() const noexcept { return kind() == type::bytes; }
  bool is_duration() const noexcept { return kind() == type::duration; }
  bool is_list() const noexcept { return kind() == type::list; }
  bool is_map() const noexcept { return kind() == type::map; }

  // Accessors: the caller checks the kind first; a wrong kind throws std::bad_variant_access.
  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_integer() const { return std::get<std::int64_t>(data_); }
  /// An integer or a number, as a double.
  double as_number() const;
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const bytes& as_bytes() const { return std::get<bytes>(data_); }
  duration as_duration() const { return std::get<duration>(data_); }
  const list& as_list() const { return std::get<list>(data_); }
  list& as_list() { return std::get<list>(data_); }
  const map& as_map() const { return std::get<map>(data_); }
  map& as_map() { return std::get<map>(data_); }

  /// For maps: the entry under `key`, or nullptr (also for non-maps).
  const value* find(const std::string& key) const;

  /// A compact, deterministic text form (JSON-like; bytes as `b64:...`, durations as `5ms`).
  std::string to_string() const;

  friend bool operator==(const value& a, const value& b) { return a.data_ == b.data_; }
  friend bool operator!=(const value& a, const value& b) { return !(a == b); }

  /// Field description for CAF inspectors (printing, serialization): a tag plus the one
  /// alternative it names; lists and maps recurse. Writing (and printing) looks at the value
  /// in place, without copying it; reading fills locals and assigns the one the tag names.
  template <class Inspector>
  friend auto inspect(Inspector& f, value& x) {
    auto tag = static_cast<std::uint8_t>(x.data_.index());
    if constexpr (Inspector::reads_state) {
      // The fields not in use are empty stand-ins; the one in use is the value's own.
      bool no_b = false;
      double no_d = 0.0;
      std::string no_s;
      bytes no_by;
      list no_l;
      map no_m;
      std::int64_t i = x.is_integer()    ? x.as_integer()
                       : x.is_duration() ? x.as_duration().count()
                                         : 0;
      return f(caf::meta::type_name("loopbridge.value"), tag,
               x.is_bool() ? std::get<bool>(x.data_) : no_b, i,
               x.is_number() ? std::get<double>(x.data_) : no_d,
               x.is_string() ? std::get<std::string>(x.data_) : no_s,
               x.is_bytes() ? std::get<bytes>(x.data_) : no_by,
               x.is_list() ? std::get<list>(x.data_) : no_l,
               x.is_map() ? std::get<map>(x.data_) : no_m);
    } else {
      bool b = false;
      std::int64_t i = 0;
      double d = 0.0;
      std::string s;
      bytes by;
      list l;
      map m;
      auto restore = [&] {
        x.assign_tagged(tag, b, i, d, std::move(s), std::move(by), std::move(l), std::move(m));
      };
      return f(caf::meta::type_name("loopbridge.value"), tag, b, i, d, s, detail::byte_field{by}, l,
               m, caf::meta::load_callback([&]() -> typename Inspector::result_type {
                 restore();
                 return detail::inspect_ok<typename Inspector::result_type>();
               }));
    }
  }

private:
  void assign_tagged(std::uint8_t tag, bool b, std::int64_t i, double d, std::string s, bytes by,
                     list l, map m);

  std::variant<std::monostate, bool, std::int64_t, double, std::string, bytes, duration, list, map>
      data_;
};

} // namespace loopbridge
