// Kind params: their declarations, and checking and converting the params an actor is given.
#include "loopbridge/params.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace loopbridge {

const char* to_string(param_type t) noexcept {
  switch (t) {
    case param_type::boolean:
      return "boolean";
    case param_type::integer:
      return "integer";
    case param_type::number:
      return "number";
    case param_type::string:
      return "string";
    case param_type::duration:
      return "duration";
    case param_type::size:
      return "size";
    case param_type::string_list:
      return "list of strings";
    case param_type::map:
      return "map";
    case param_type::any:
      return "any";
  }
  return "?";
}

// -- param_decl builders -------------------------------------------------------------------------

namespace {
param_decl make_decl(std::string name, param_type type, value fallback, std::string doc) {
  param_decl d;
  d.name = std::move(name);
  d.type = type;
  d.default_value = std::move(fallback);
  d.doc = std::move(doc);
  return d;
}
} // namespace

param_decl param_decl::boolean(std::string name, bool fallback, std::string doc) {
  return make_decl(std::move(name), param_type::boolean, value{fallback}, std::move(doc));
}
param_decl param_decl::integer(std::string name, std::int64_t fallback, std::string doc) {
  return make_decl(std::move(name), param_type::integer, value{fallback}, std::move(doc));
}
param_decl param_decl::number(std::string name, double fallback, std::string doc) {
  return make_decl(std::move(name), param_type::number, value{fallback}, std::move(doc));
}
param_decl param_decl::string(std::string name, std::string fallback, std::string doc) {
  return make_decl(std::move(name), param_type::string, value{std::move(fallback)}, std::move(doc));
}
param_decl param_decl::duration(std::string name, value::duration fallback, std::string doc) {
  return make_decl(std::move(name), param_type::duration, value{fallback}, std::move(doc));
}
param_decl param_decl::size(std::string name, std::int64_t fallback, std::string doc) {
  return make_decl(std::move(name), param_type::size, value{fallback}, std::move(doc));
}
param_decl param_decl::string_list(std::string name, std::vector<std::string> fallback,
                                   std::string doc) {
  value::list l;
  for (auto& s : fallback)
    l.emplace_back(std::move(s));
  return make_decl(std::move(name), param_type::string_list, value{std::move(l)}, std::move(doc));
}
param_decl param_decl::map(std::string name, std::string doc) {
  return make_decl(std::move(name), param_type::map, value{}, std::move(doc));
}
param_decl param_decl::any(std::string name, std::string doc) {
  return make_decl(std::move(name), param_type::any, value{}, std::move(doc));
}

// -- params ---------------------------------------------------------------------------------------

const value* params::find(std::string_view name) const {
  if (!values_)
    return nullptr;
  auto it = values_->find(std::string{name});
  return it == values_->end() ? nullptr : &it->second;
}

const value::map& params::all() const noexcept {
  static const value::map none;
  return values_ ? *values_ : none;
}

bool params::boolean(std::string_view name, bool fallback) const {
  auto* v = find(name);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

std::int64_t params::integer(std::string_view name, std::int64_t fallback) const {
  auto* v = find(name);
  return v && v->is_integer() ? v->as_integer() : fallback;
}

double params::number(std::string_view name, double fallback) const {
  auto* v = find(name);
  return v && (v->is_number() || v->is_integer()) ? v->as_number() : fallback;
}

std::string params::string(std::string_view name, std::string fallback) const {
  auto* v = find(name);
  return v && v->is_string() ? v->as_string() : fallback;
}

value::duration params::duration(std::string_view name, value::duration fallback) const {
  auto* v = find(name);
  return v && v->is_duration() ? v->as_duration() : fallback;
}

std::vector<std::string> params::string_list(std::string_view name) const {
  std::vector<std::string> out;
  if (auto* v = find(name); v && v->is_list())
    for (auto& x : v->as_list())
      if (x.is_string())
        out.push_back(x.as_string());
  return out;
}

// -- validation -----------------------------------------------------------------------------------

namespace {

std::string describe(const value& v) {
  auto text = v.to_string();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return std::string{value::type_name(v.kind())} + " " + text;
}

std::string range_hint(const param_decl& d, const char* unit = "") {
  std::string s;
  auto fmt = [](double x) {
    auto t = std::to_string(x);
    while (t.find('.') != std::string::npos && (t.back() == '0' || t.back() == '.')) {
      bool dot = t.back() == '.';
      t.pop_back();
      if (dot)
        break;
    }
    return t;
  };
  if (d.min && d.max)
    s = "allowed range: " + fmt(*d.min) + unit + " to " + fmt(*d.max) + unit;
  else if (d.min)
    s = "must be at least " + fmt(*d.min) + unit;
  else if (d.max)
    s = "must be at most " + fmt(*d.max) + unit;
  return s;
}

bool in_range(const param_decl& d, double x) {
  return (!d.min || x >= *d.min) && (!d.max || x <= *d.max);
}

std::string choices_hint(const param_decl& d, const std::string& given) {
  auto suggestion = did_you_mean(given, d.choices);
  if (!suggestion.empty())
    return suggestion;
  std::string s = "one of:";
  for (auto& c : d.choices)
    s += " " + c;
  return s;
}

/// One value given for a declared param, on its way to the declared type: what problems are
/// reported against, and where they go.
struct conversion {
  const param_decl& d;
  const value& v;
  std::vector<param_problem>& problems;

  /// Records that `v` is not `expected`; returns false.
  bool bad(std::string expected, std::string hint = {}) const {
    problems.push_back({d.name, "expected " + expected + ", got " + describe(v), std::move(hint)});
    return false;
  }
  /// Records that `v` (shown as `shown`) is outside the declared range; returns false.
  bool out_of_range(std::string shown, const char* unit = "") const {
    problems.push_back({d.name, "value " + shown + " is out of range", range_hint(d, unit)});
    return false;
  }
};

/// A string, one of the declared choices if there are any.
bool convert_string(const conversion& c, value& out) {
  auto& d = c.d;
  auto& v = c.v;
  if (!v.is_string())
    return c.bad("a string");
  if (!d.choices.empty() &&
      std::find(d.choices.begin(), d.choices.end(), v.as_string()) == d.choices.end()) {
    c.problems.push_back(
        {d.name, quote(v.as_string()) + " is not allowed", choices_hint(d, v.as_string())});
    return false;
  }
  out = v;
  return true;
}

/// A duration: a duration value, a string with a unit, or a bare 0.
bool convert_duration(const conversion& c, value& out) {
  auto& d = c.d;
  auto& v = c.v;
  value::duration dur;
  if (v.is_duration()) {
    dur = v.as_duration();
  } else if (v.is_string()) {
    auto parsed = parse_duration(v.as_string());
    if (!parsed)
      return c.bad("a duration such as 250ms, 5s or 2m",
                   "units: ns, us, ms, s, m, h; no negative values");
    dur = *parsed;
  } else if (v.is_integer() && v.as_integer() == 0) {
    dur = value::duration::zero();
  } else {
    return c.bad("a duration such as 250ms, 5s or 2m", "write the unit, e.g. 5s");
  }
  if (dur.count() < 0)
    return c.bad("a non-negative duration");
  if (!in_range(d, std::chrono::duration<double>(dur).count()))
    return c.out_of_range(format_duration(dur), "s");
  out = value{dur};
  return true;
}

/// A size in bytes: an integer, or a string with a unit.
bool convert_size(const conversion& c, value& out) {
  auto& d = c.d;
  auto& v = c.v;
  std::int64_t n;
  if (v.is_integer()) {
    n = v.as_integer();
  } else if (v.is_string()) {
    auto parsed = parse_size(v.as_string());
    if (!parsed)
      return c.bad("a size such as 4096, 64KiB or 10MiB");
    n = *parsed;
  } else {
    return c.bad("a size such as 4096, 64KiB or 10MiB");
  }
  if (n < 0)
    return c.bad("a non-negative size");
  if (!in_range(d, static_cast<double>(n)))
    return c.out_of_range(std::to_string(n), " bytes");
  out = value{n};
  return true;
}

/// A list of strings, each one of the declared choices if there are any; every bad element is
/// a problem of its own.
bool convert_string_list(const conversion& c, value& out) {
  auto& d = c.d;
  auto& v = c.v;
  if (!v.is_list())
    return c.bad("a list of strings");
  bool ok = true;
  std::size_t i = 0;
  for (auto& x : v.as_list()) {
    auto path = d.name + "[" + std::to_string(i++) + "]";
    if (!x.is_string()) {
      c.problems.push_back({path, "expected a string, got " + describe(x), {}});
      ok = false;
    } else if (!d.choices.empty() &&
               std::find(d.choices.begin(), d.choices.end(), x.as_string()) == d.choices.end()) {
      c.problems.push_back(
          {path, quote(x.as_string()) + " is not allowed", choices_hint(d, x.as_string())});
      ok = false;
    }
  }
  if (ok)
    out = v;
  return ok;
}

/// Converts `v` to the declared type; on failure appends a problem and returns false.
bool convert(const param_decl& d, const value& v, value& out,
             std::vector<param_problem>& problems) {
  conversion c{d, v, problems};
  switch (d.type) {
    case param_type::boolean:
      if (!v.is_bool())
        return c.bad("a boolean (true or false)");
      out = v;
      return true;
    case param_type::integer:
      if (!v.is_integer())
        return c.bad("an integer");
      if (!in_range(d, static_cast<double>(v.as_integer())))
        return c.out_of_range(std::to_string(v.as_integer()));
      out = v;
      return true;
    case param_type::number:
      if (!v.is_integer() && !v.is_number())
        return c.bad("a number");
      if (!in_range(d, v.as_number()))
        return c.out_of_range(v.to_string());
      out = value{v.as_number()};
      return true;
    case param_type::string:
      return convert_string(c, out);
    case param_type::duration:
      return convert_duration(c, out);
    case param_type::size:
      return convert_size(c, out);
    case param_type::string_list:
      return convert_string_list(c, out);
    case param_type::map:
      if (!v.is_map())
        return c.bad("a map");
      out = v;
      return true;
    case param_type::any:
      out = v;
      return true;
  }
  return false;
}

} // namespace

std::vector<param_problem> resolve_params(const std::vector<param_decl>& decls, const value& given,
                                          params& out) {
  std::vector<param_problem> problems;
  if (!given.is_null() && !given.is_map()) {
    problems.push_back({"", "expected a map of parameters, got " + describe(given), {}});
    return problems;
  }
  static const value::map empty;
  const auto& in = given.is_map() ? given.as_map() : empty;
  for (auto& entry : in) {
    const auto& key = entry.first;
    if (std::none_of(decls.begin(), decls.end(), [&](auto& d) { return d.name == key; })) {
      std::vector<std::string> names;
      for (auto& d : decls)
        names.push_back(d.name);
      auto suggestion = did_you_mean(key, names);
      std::string hint;
      if (!suggestion.empty())
        hint = suggestion;
      else if (names.empty())
        hint = "this kind takes no parameters";
      else {
        hint = "known parameters:";
        for (auto& n : names)
          hint += " " + n;
      }
      problems.push_back({key, "unknown parameter", hint});
    }
  }
  value::map result;
  for (auto& d : decls) {
    auto it = in.find(d.name);
    if (it == in.end() || it->second.is_null()) {
      if (d.required)
        problems.push_back({d.name, "missing required parameter", d.doc});
      else if (!d.default_value.is_null())
        result[d.name] = d.default_value;
      continue;
    }
    value converted;
    if (convert(d, it->second, converted, problems))
      result[d.name] = std::move(converted);
  }
  if (problems.empty())
    out = params{std::move(result)};
  return problems;
}

} // namespace loopbridge
