#include "yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "loopbridge/params.hpp"

namespace loopbridge::config::detail {

namespace {

/// How many value nodes a document may expand to per byte of its text, and at least: the
/// bound on alias amplification (`load_limits::max_nodes` bounds it too).
constexpr std::size_t nodes_per_byte = 16;
constexpr std::size_t nodes_floor = 10000;

/// The offset of the first byte that is not valid UTF-8, or npos.
std::size_t invalid_utf8(std::string_view s) {
  std::uint32_t cp = 0;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len)
    if ((len = utf8_at(s, i, cp)) == 0)
      return i;
  return std::string_view::npos;
}

/// 0-based line and column (in characters) of byte `offset`.
YAML::Mark mark_at(std::string_view s, std::size_t offset) {
  YAML::Mark m;
  m.pos = static_cast<int>(offset);
  m.line = 0;
  m.column = 0;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++m.line;
      m.column = 0;
    } else if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      ++m.column;
    }
  }
  return m;
}

/// The offset of the first character YAML does not allow (C0 controls other than tab, line
/// feed and carriage return, and DEL), or npos.
std::size_t invalid_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
      return i;
  }
  return std::string_view::npos;
}

/// A problem with the file's document structure that yaml-cpp 0.7 would not report.
struct structure_problem {
  std::size_t offset;
  std::string message;
  std::string hint;
};

/// Looks at the lines that start at column 0 for what makes a file hold more than one document:
/// a second `---` after content, content after a `...` end marker, or a `%` directive after
/// content. yaml-cpp's Load parses the first document and silently drops the rest (and its LoadAll
/// can loop forever on malformed streams, upstream issue #1040), so these are found here and only
/// the first document is ever parsed.
std::optional<structure_problem> document_structure(std::string_view s) {
  bool content = false;
  bool ended = false; // a `...` marker closed the document
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto end = s.find('\n', pos);
    auto line = s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto is_marker = [&](std::string_view m) {
      return line.substr(0, 3) == m && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
    };
    auto first = line.find_first_not_of(" \t");
    bool blank = first == std::string_view::npos || line[first] == '#';
    if (is_marker("---") && (content || ended))
      return structure_problem{pos, "expected one YAML document, found more",
                               "remove the extra '---' sections"};
    if (!line.empty() && line[0] == '%' && (content || ended))
      return structure_problem{pos, "a directive after the document's content",
                               "directives such as %YAML go at the top of the file"};
    if (is_marker("...")) {
      ended = ended || content;
    } else if (!blank && !is_marker("---") && line[0] != '%') {
      if (ended)
        return structure_problem{pos, "content after the document end marker '...'",
                                 "remove the '...' line or what follows it"};
      content = true;
    }
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  return std::nullopt;
}

bool only_comments_and_space(std::string_view s) {
  bool in_comment = false;
  for (char c : s) {
    if (in_comment) {
      if (c == '\n')
        in_comment = false;
      continue;
    }
    if (c == '#')
      in_comment = true;
    else if (!std::isspace(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

bool quoted(const YAML::Node& n) {
  return n.Tag() == "!";
}

std::optional<std::int64_t> parse_int(const std::string& s) {
  if (s.empty() || s.size() > 20)
    return std::nullopt;
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size())
    return std::nullopt;
  for (std::size_t k = i; k < s.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(s[k])))
      return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || end != s.c_str() + s.size())
    return std::nullopt;
  return v;
}

std::optional<double> parse_float(const std::string& s) {
  if (s.empty() || s.size() > 64)
    return std::nullopt;
  bool digit = false, marker = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)))
      digit = true;
    else if (c == '.' || c == 'e' || c == 'E')
      marker = true;
    else if (c != '-' && c != '+')
      return std::nullopt;
  }
  if (!digit || !marker)
    return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

} // namespace

yaml_reader::yaml_reader(std::string file, load_limits limits, std::vector<problem>& problems)
    : file_(std::move(file)),
      limits_(limits),
      problems_(problems) {}

void yaml_reader::add(const YAML::Mark& at, std::string path, std::string message,
                      std::string hint) {
  problem p;
  p.file = file_;
  p.line = at.is_null() ? 1 : at.line + 1;
  p.column = at.is_null() ? 1 : at.column + 1;
  p.path = std::move(path);
  p.message = std::move(message);
  p.hint = std::move(hint);
  problems_.push_back(std::move(p));
}

std::optional<YAML::Node> yaml_reader::parse(std::string_view text) {
  YAML::Mark start;
  // Without aliases a node takes at least two bytes of text; aliases may reuse what they name
  // many times over, within this bound (an alias bomb of a few hundred bytes stops at once).
  node_cap_ = std::min(limits_.max_nodes, nodes_per_byte * text.size() + nodes_floor);
  if (text.size() > limits_.max_bytes) {
    add(start, "", "the file is too large (" + std::to_string(text.size()) + " bytes)",
        "at most " + std::to_string(limits_.max_bytes) + " bytes");
    return std::nullopt;
  }
  if (auto bad = invalid_utf8(text); bad != std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(text[bad]));
    add(mark_at(text, bad), "", std::string{"the file is not valid UTF-8 (byte "} + hex + ")",
        "save it as UTF-8");
    return std::nullopt;
  }
  if (auto bad = invalid_control(text); bad != std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(text[bad]));
    add(mark_at(text, bad), "", std::string{"the file contains a control character ("} + hex + ")",
        "YAML allows tab, line feed and carriage return only");
    return std::nullopt;
  }
  if (only_comments_and_space(text)) {
    add(start, "", "the file is empty", "a topology needs at least an 'actors' list");
    return std::nullopt;
  }
  if (auto bad = document_structure(text)) {
    add(mark_at(text, bad->offset), "", bad->message, bad->hint);
    return std::nullopt;
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string{text});
  } catch (const YAML::DeepRecursion& e) {
    add(e.mark, "", "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    return std::nullopt;
  } catch (const YAML::ParserException& e) {
    add(e.mark, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    add(start, "", std::string{"YAML error: "} + e.what());
    return std::nullopt;
  }
  if (!doc.IsDefined() || doc.IsNull()) {
    add(start, "", "the file holds no YAML map", "a topology needs at least an 'actors' list");
    return std::nullopt;
  }
  return doc;
}

std::string yaml_reader::describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar: {
      return "\"" + printable(n.Scalar(), 40) + "\"";
    }
    default:
      return "nothing";
  }
}

bool yaml_reader::expect_map(const YAML::Node& n, const std::string& path,
                             const std::string& what) {
  if (n.IsMap())
    return true;
  add(n, path, "expected " + what + ", got " + describe(n));
  return false;
}

bool yaml_reader::expect_list(const YAML::Node& n, const std::string& path,
                              const std::string& what) {
  if (n.IsSequence())
    return true;
  add(n, path, "expected " + what + ", got " + describe(n));
  return false;
}

std::vector<std::pair<std::string, YAML::Node>>
yaml_reader::entries(const YAML::Node& n, const std::string& path,
                     const std::vector<std::string>& allowed) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::map<std::string, int> first_line;
  for (const auto& kv : n) {
    YAML::Node key = kv.first;
    YAML::Node val = kv.second;
    if (!key.IsScalar()) {
      add(key, path, "keys must be plain names, got " + describe(key));
      continue;
    }
    auto name = key.Scalar();
    if (auto seen = first_line.find(name); seen != first_line.end()) {
      add(key, join(path, name), "duplicate key " + quote(name),
          "first at line " + std::to_string(seen->second));
      continue;
    }
    first_line.emplace(name, key.Mark().line + 1);
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      auto suggestion = did_you_mean(name, allowed);
      std::string hint;
      if (!suggestion.empty()) {
        hint = suggestion;
      } else {
        hint = "expected one of:";
        for (auto& a : allowed)
          hint += " " + a;
      }
      add(key, join(path, name), "unknown key " + quote(name), hint);
      continue;
    }
    out.emplace_back(name, val);
  }
  return out;
}

void yaml_reader::require(bool present, const YAML::Node& n, const std::string& path,
                          const std::string& key) {
  if (!present)
    add(n, path, "missing required key " + quote(key));
}

std::optional<std::string> yaml_reader::string(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) {
    add(n, path, "expected a string, got " + describe(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<std::int64_t> yaml_reader::integer(const YAML::Node& n, const std::string& path,
                                                 std::int64_t min, std::int64_t max) {
  auto expected = [&] {
    if (max == INT64_MAX)
      return "an integer of at least " + std::to_string(min);
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  };
  std::optional<std::int64_t> v;
  if (n.IsScalar() && !quoted(n))
    v = parse_int(n.Scalar());
  if (!v || *v < min || *v > max) {
    add(n, path, "expected " + expected() + ", got " + describe(n));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> yaml_reader::boolean(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar() && !quoted(n)) {
    auto& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE")
      return true;
    if (s == "false" || s == "False" || s == "FALSE")
      return false;
  }
  add(n, path, "expected true or false, got " + describe(n));
  return std::nullopt;
}

std::optional<value::duration> yaml_reader::duration(const YAML::Node& n, const std::string& path,
                                                     bool allow_zero) {
  std::optional<value::duration> d;
  if (n.IsScalar())
    d = parse_duration(n.Scalar());
  if (!d) {
    add(n, path, "expected a duration such as 250ms, 5s or 2m, got " + describe(n),
        "units: ns, us, ms, s, m, h; no negative values");
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    add(n, path, "expected a duration greater than zero, got " + describe(n));
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> yaml_reader::choice(const YAML::Node& n, const std::string& path,
                                               const std::vector<std::string>& choices) {
  auto s = string(n, path);
  if (!s)
    return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) != choices.end())
    return s;
  auto suggestion = did_you_mean(*s, choices);
  std::string hint;
  if (!suggestion.empty()) {
    hint = suggestion;
  } else {
    hint = "expected one of:";
    for (auto& c : choices)
      hint += " " + c;
  }
  add(n, path, quote(*s) + " is not allowed", hint);
  return std::nullopt;
}

std::optional<std::vector<std::string>> yaml_reader::string_list(const YAML::Node& n,
                                                                 const std::string& path) {
  if (n.IsScalar())
    return std::vector<std::string>{n.Scalar()};
  if (!n.IsSequence()) {
    add(n, path, "expected a name or a list of names, got " + describe(n));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (auto s = string(n[i], index(path, i)))
      out.push_back(*s);
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return out;
}

value yaml_reader::to_value(const YAML::Node& n, const std::string& path) {
  return convert(n, path, 0);
}

value yaml_reader::convert(const YAML::Node& n, const std::string& path, int depth) {
  if (++nodes_ > node_cap_) {
    if (!node_limit_reported_) {
      node_limit_reported_ = true;
      add(n, path, "the document expands to more than " + std::to_string(node_cap_) + " nodes",
          "YAML aliases count each time they are used");
    }
    return value{};
  }
  if (depth > limits_.max_depth) {
    add(n, path, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    return value{};
  }
  marks_.emplace(path, n.Mark());
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return value{};
    case YAML::NodeType::Scalar: {
      const auto& s = n.Scalar();
      if (quoted(n))
        return value{s};
      if (s == "~" || s == "null" || s == "Null" || s == "NULL")
        return value{};
      if (s == "true" || s == "True" || s == "TRUE")
        return value{true};
      if (s == "false" || s == "False" || s == "FALSE")
        return value{false};
      if (auto i = parse_int(s))
        return value{*i};
      if (auto f = parse_float(s))
        return value{*f};
      return value{s};
    }
    case YAML::NodeType::Sequence: {
      value::list l;
      for (std::size_t i = 0; i < n.size(); ++i)
        l.push_back(convert(n[i], index(path, i), depth + 1));
      return value{std::move(l)};
    }
    case YAML::NodeType::Map: {
      value::map m;
      for (const auto& kv : n) {
        YAML::Node key_node = kv.first;
        YAML::Node val = kv.second;
        if (!key_node.IsScalar()) {
          add(key_node, path, "keys must be plain names, got " + describe(key_node));
          continue;
        }
        auto key = key_node.Scalar();
        if (m.count(key)) {
          add(key_node, join(path, key), "duplicate key " + quote(key));
          continue;
        }
        marks_.emplace(join(path, key), key_node.Mark()); // entries point at their key
        m.emplace(key, convert(val, join(path, key), depth + 1));
      }
      return value{std::move(m)};
    }
  }
  return value{};
}

YAML::Mark yaml_reader::mark_of(const std::string& path) const {
  std::string p = path;
  for (;;) {
    if (auto it = marks_.find(p); it != marks_.end())
      return it->second;
    auto cut = p.find_last_of(".[");
    if (cut == std::string::npos)
      return YAML::Mark::null_mark();
    p = p.substr(0, cut);
  }
}

} // namespace loopbridge::config::detail
