#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loopbridge/text.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge {

/// The type a parameter declares. `duration` accepts a duration value or a string such as
/// `250ms`, `5s`, `2m`; `size` accepts an integer or a string such as `64KiB`, `1MiB`.
enum class param_type { boolean, integer, number, string, duration, size, string_list, map, any };

const char* to_string(param_type t) noexcept;

/// One parameter of an actor kind, declared as plain data: the topology loader and
/// `runtime::spawn` validate against it, docs and `loopbridge check` print it.
struct param_decl {
  std::string name;
  param_type type = param_type::any;
  /// Used when the parameter is absent; null means "no default" (absent stays absent).
  value default_value;
  std::string doc;
  /// Inclusive bounds for integer, number, size (in bytes) and duration (in seconds).
  std::optional<double> min;
  std::optional<double> max;
  /// For strings and string lists: the allowed values (empty = any).
  std::vector<std::string> choices;
  bool required = false;

  // Builders, so a kind's declarations read as one line each:
  //   param_decl::duration("delay", 0ns, "time before each reply").range(0, 3600)
  static param_decl boolean(std::string name, bool fallback, std::string doc);
  static param_decl integer(std::string name, std::int64_t fallback, std::string doc);
  static param_decl number(std::string name, double fallback, std::string doc);
  static param_decl string(std::string name, std::string fallback, std::string doc);
  static param_decl duration(std::string name, value::duration fallback, std::string doc);
  static param_decl size(std::string name, std::int64_t fallback, std::string doc);
  static param_decl string_list(std::string name, std::vector<std::string> fallback,
                                std::string doc);
  static param_decl map(std::string name, std::string doc);
  static param_decl any(std::string name, std::string doc);
  /// A declaration without a default (absent stays absent).
  param_decl& no_default() {
    default_value = value{};
    return *this;
  }
  param_decl& range(double lo, double hi) {
    min = lo;
    max = hi;
    return *this;
  }
  param_decl& at_least(double lo) {
    min = lo;
    return *this;
  }
  param_decl& one_of(std::vector<std::string> allowed) {
    choices = std::move(allowed);
    return *this;
  }
  param_decl& mandatory() {
    required = true;
    default_value = value{};
    return *this;
  }
};

/// One thing wrong with a set of parameters: the key path (`delay`, `schemes[2]`), what was
/// expected, and a hint (a did-you-mean suggestion, the allowed range).
struct param_problem {
  std::string path;
  std::string message;
  std::string hint;
};

/// Validated parameters of one actor, defaults filled in, strings converted to the declared
/// types (durations as durations, sizes as integers). Read-only; safe to share across threads.
/// Copies share one map (actors of a kind spawned with the same params hold it once).
class params {
public:
  params() = default;
  explicit params(value::map values)
      : values_(std::make_shared<const value::map>(std::move(values))) {}

  /// The parameter, or nullptr if absent (only possible for declared params without a default).
  const value* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  // Typed accessors; `fallback` is returned when the parameter is absent.
  bool boolean(std::string_view name, bool fallback = false) const;
  std::int64_t integer(std::string_view name, std::int64_t fallback = 0) const;
  double number(std::string_view name, double fallback = 0) const;
  std::string string(std::string_view name, std::string fallback = {}) const;
  value::duration duration(std::string_view name, value::duration fallback = {}) const;
  std::vector<std::string> string_list(std::string_view name) const;
  const value::map& all() const noexcept;

private:
  std::shared_ptr<const value::map> values_; ///< null: no parameters
};

/// Checks `given` (a map, or null for "none") against `decls`: unknown names (with a
/// did-you-mean hint), wrong types, values out of range or not among the choices, missing
/// required params. On success, `out` holds the normalised params. Never throws on bad input.
std::vector<param_problem> resolve_params(const std::vector<param_decl>& decls, const value& given,
                                          params& out);

/// Parses a duration: a number followed by `ns`, `us`, `ms`, `s`, `m` or `h` (`1.5s`, `250ms`),
/// or `0`. Negative values and unknown units are rejected.
std::optional<value::duration> parse_duration(std::string_view text);
/// Formats a duration with the largest unit that keeps it exact (`1500ms`, `2s`).
std::string format_duration(value::duration d);
/// A measured duration for people: three significant digits in the largest fitting unit
/// (`1.70s`, `203ms`, `12.5us`, `840ns`). Not for config files: use `format_duration`.
std::string readable_duration(value::duration d);
/// Parses a size: an integer, optionally followed by `B`, `KiB`, `MiB`, `GiB`, `kB`, `MB`, `GB`.
std::optional<std::int64_t> parse_size(std::string_view text);

} // namespace loopbridge
