// `value`, the neutral tree of fields: access and its text form.
#include "loopbridge/value.hpp"

#include <cmath>
#include <cstdio>

#include "loopbridge/params.hpp"

namespace loopbridge {

namespace {

void append_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string base64(const value::bytes& b) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    unsigned n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i + 1 == b.size()) {
    unsigned n = b[i] << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    unsigned n = (b[i] << 16) | (b[i + 1] << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

void write(std::string& out, const value& v) {
  switch (v.kind()) {
    case value::type::null:
      out += "null";
      break;
    case value::type::boolean:
      out += v.as_bool() ? "true" : "false";
      break;
    case value::type::integer:
      out += std::to_string(v.as_integer());
      break;
    case value::type::number: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", v.as_number());
      out += buf;
      break;
    }
    case value::type::string:
      append_quoted(out, v.as_string());
      break;
    case value::type::bytes:
      out += "\"b64:" + base64(v.as_bytes()) + "\"";
      break;
    case value::type::duration:
      out += format_duration(v.as_duration());
      break;
    case value::type::list: {
      out += '[';
      bool first = true;
      for (auto& x : v.as_list()) {
        if (!first)
          out += ", ";
        first = false;
        write(out, x);
      }
      out += ']';
      break;
    }
    case value::type::map: {
      out += '{';
      bool first = true;
      for (auto& [k, x] : v.as_map()) {
        if (!first)
          out += ", ";
        first = false;
        append_quoted(out, k);
        out += ": ";
        write(out, x);
      }
      out += '}';
      break;
    }
  }
}

} // namespace

const char* value::type_name(type t) noexcept {
  switch (t) {
    case type::null:
      return "null";
    case type::boolean:
      return "boolean";
    case type::integer:
      return "integer";
    case type::number:
      return "number";
    case type::string:
      return "string";
    case type::bytes:
      return "bytes";
    case type::duration:
      return "duration";
    case type::list:
      return "list";
    case type::map:
      return "map";
  }
  return "?";
}

double value::as_number() const {
  if (is_integer())
    return static_cast<double>(as_integer());
  return std::get<double>(data_);
}

const value* value::find(const std::string& key) const {
  if (!is_map())
    return nullptr;
  auto& m = as_map();
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

std::string value::to_string() const {
  std::string out;
  write(out, *this);
  return out;
}

void value::assign_tagged(std::uint8_t tag, bool b, std::int64_t i, double d, std::string s,
                          bytes by, list l, map m) {
  switch (static_cast<type>(tag)) {
    case type::boolean:
      data_ = b;
      break;
    case type::integer:
      data_ = i;
      break;
    case type::number:
      data_ = d;
      break;
    case type::string:
      data_ = std::move(s);
      break;
    case type::bytes:
      data_ = std::move(by);
      break;
    case type::duration:
      data_ = duration{i};
      break;
    case type::list:
      data_ = std::move(l);
      break;
    case type::map:
      data_ = std::move(m);
      break;
    default:
      data_ = std::monostate{};
  }
}

} // namespace loopbridge
