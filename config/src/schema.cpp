// The JSON Schema of topology files (`loopbridge schema`), made from the key table
// (topology_keys.cpp) and the registered kinds' params.
#include "loopbridge/config/schema.hpp"

#include <map>
#include <sstream>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge::config {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

const char* duration_pattern = "^(0|[0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|min|h))$";
const char* size_pattern = "^[0-9]+(\\\\.[0-9]+)?(B|KiB|MiB|GiB|kB|KB|MB|GB)?$";

/// The JSON Schema of one value of a key.
std::string key_schema(const key_doc& d, const std::string& indent);

std::string object_schema(const std::string& section, const std::string& indent,
                          const std::string& extra = {}) {
  std::ostringstream o;
  std::vector<std::string> req;
  o << "{\n" << indent << "  \"type\": \"object\",\n";
  o << indent << "  \"additionalProperties\": false,\n";
  o << indent << "  \"properties\": {";
  bool first = true;
  for (auto& d : topology_keys()) {
    if (d.section != section)
      continue;
    o << (first ? "\n" : ",\n") << indent << "    " << json_string(d.key) << ": "
      << key_schema(d, indent + "    ");
    first = false;
    if (d.required)
      req.push_back(d.key);
  }
  o << "\n" << indent << "  }";
  if (!req.empty()) {
    o << ",\n" << indent << "  \"required\": [";
    for (std::size_t i = 0; i < req.size(); ++i)
      o << (i ? ", " : "") << json_string(req[i]);
    o << "]";
  }
  o << extra << "\n" << indent << "}";
  return o.str();
}

std::string key_schema(const key_doc& d, const std::string& indent) {
  std::ostringstream o;
  auto desc = ",\n" + indent + "  \"description\": " + json_string(d.doc);
  if (d.type == "map" || d.type == "list") {
    auto child = d.type == "list"
                     ? d.section.empty() ? d.key + "[]" : d.section + "." + d.key + "[]"
                 : d.section.empty() ? d.key
                                     : d.section + "." + d.key;
    if (d.type == "list") {
      o << "{\n"
        << indent << "  \"type\": \"array\",\n"
        << indent << "  \"items\": " << object_schema(child, indent + "  ") << desc << "\n"
        << indent << "}";
    } else {
      auto obj = object_schema(child, indent);
      obj.insert(obj.size() - indent.size() - 2, desc);
      o << obj;
    }
    return o.str();
  }
  o << "{";
  if (d.type == "string" || d.type == "name") {
    o << "\"type\": \"string\"";
    if (d.type == "name")
      o << ", \"pattern\": \"^[A-Za-z][A-Za-z0-9_.-]{0,63}$\"";
  } else if (d.type == "integer") {
    o << "\"type\": \"integer\"";
    if (d.min)
      o << ", \"minimum\": " << *d.min;
    if (d.max)
      o << ", \"maximum\": " << *d.max;
  } else if (d.type == "duration") {
    o << "\"type\": \"string\", \"pattern\": \"" << duration_pattern << "\"";
  } else if (d.type == "boolean") {
    o << "\"type\": \"boolean\"";
  } else if (d.type == "enum") {
    o << "\"enum\": [";
    for (std::size_t i = 0; i < d.choices.size(); ++i)
      o << (i ? ", " : "") << json_string(d.choices[i]);
    o << "]";
  } else if (d.type == "names") {
    o << "\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"array\", \"items\": {\"type\": "
         "\"string\"}}]";
  } else if (d.type == "restart") {
    o << "\"oneOf\": [{\"enum\": [\"never\", \"on_failure\"]}, "
      << object_schema("actors[].restart", indent) << "]";
  } else if (d.type == "fields" || d.type == "params") {
    o << "\"type\": \"object\"";
  } else if (d.type == "requests") {
    o << "\"type\": \"array\", \"items\": {\"type\": \"object\"}";
  }
  if (!d.fallback.empty() && d.type != "restart") {
    bool numeric = d.fallback.find_first_not_of("0123456789") == std::string::npos;
    if ((d.type == "integer" && numeric) || d.type == "boolean")
      o << ", \"default\": " << d.fallback;
    else if (d.type != "integer")
      o << ", \"default\": " << json_string(d.fallback);
  }
  o << ", \"description\": " << json_string(d.doc) << "}";
  return o.str();
}

std::string param_schema(const param_decl& p) {
  std::ostringstream o;
  o << "{";
  switch (p.type) {
    case param_type::boolean:
      o << "\"type\": \"boolean\"";
      break;
    case param_type::integer:
      o << "\"type\": \"integer\"";
      if (p.min)
        o << ", \"minimum\": " << static_cast<long long>(*p.min);
      if (p.max)
        o << ", \"maximum\": " << static_cast<long long>(*p.max);
      break;
    case param_type::number:
      o << "\"type\": \"number\"";
      break;
    case param_type::string:
      o << "\"type\": \"string\"";
      if (!p.choices.empty()) {
        o << ", \"enum\": [";
        for (std::size_t i = 0; i < p.choices.size(); ++i)
          o << (i ? ", " : "") << json_string(p.choices[i]);
        o << "]";
      }
      break;
    case param_type::duration:
      o << "\"type\": \"string\", \"pattern\": \"" << duration_pattern << "\"";
      break;
    case param_type::size:
      o << "\"type\": [\"integer\", \"string\"], \"pattern\": \"" << size_pattern << "\"";
      break;
    case param_type::string_list:
      o << "\"type\": \"array\", \"items\": {\"type\": \"string\"";
      if (!p.choices.empty()) {
        o << ", \"enum\": [";
        for (std::size_t i = 0; i < p.choices.size(); ++i)
          o << (i ? ", " : "") << json_string(p.choices[i]);
        o << "]";
      }
      o << "}";
      break;
    case param_type::map:
      o << "\"type\": \"object\"";
      break;
    case param_type::any:
      break;
  }
  o << (o.str().size() > 1 ? ", " : "") << "\"description\": " << json_string(p.doc) << "}";
  return o.str();
}

std::string default_text(const param_decl& p) {
  if (p.default_value.is_null())
    return "";
  if (p.default_value.is_string())
    return p.default_value.as_string().empty() ? "\"\"" : p.default_value.as_string();
  return p.default_value.to_string();
}

std::string range_text(const param_decl& p) {
  auto fmt = [&](double x) {
    std::ostringstream o;
    o << x;
    return o.str() + (p.type == param_type::duration ? "s" : "");
  };
  if (p.min && p.max)
    return fmt(*p.min) + " to " + fmt(*p.max);
  if (p.min)
    return "at least " + fmt(*p.min);
  if (p.max)
    return "at most " + fmt(*p.max);
  if (!p.choices.empty()) {
    std::string s;
    for (auto& c : p.choices)
      s += (s.empty() ? "" : ", ") + c;
    return "one of " + s;
  }
  return "";
}

} // namespace

namespace {

/// `allOf` of the actor schema: when `kind` is K, `params` must fit K's declarations.
std::string per_kind_params(const kind_registry& kinds) {
  std::string per_kind = ",\n      \"allOf\": [";
  bool first = true;
  for (auto& name : kinds.names()) {
    auto* kind = kinds.find(name);
    per_kind += std::string{first ? "" : ","} +
                "\n        {\"if\": {\"properties\": {\"kind\": "
                "{\"const\": " +
                json_string(name) +
                "}}},\n         \"then\": {\"properties\": {\"params\": "
                "{\"type\": \"object\", \"additionalProperties\": false, "
                "\"properties\": {";
    bool pfirst = true;
    for (auto& p : kind->params) {
      per_kind += std::string{pfirst ? "" : ", "} + "\n           " + json_string(p.name) + ": " +
                  param_schema(p);
      pfirst = false;
    }
    per_kind += "}}}}}";
    first = false;
  }
  return per_kind + "\n      ]";
}

/// `["echo", "fetcher", ...]`
std::string kinds_enum(const kind_registry& kinds) {
  std::string out = "[";
  for (auto& n : kinds.names())
    out += (out.size() > 1 ? ", " : "") + json_string(n);
  return out + "]";
}

/// The top level's properties; `actors` holds each actor's schema.
std::string top_level_properties(const std::string& actors) {
  std::ostringstream o;
  bool f = true;
  for (auto& d : topology_keys()) {
    if (!d.section.empty())
      continue;
    o << (f ? "" : ",\n") << "    " << json_string(d.key) << ": ";
    f = false;
    if (d.key == "actors")
      o << "{\"type\": \"array\", \"minItems\": 1, \"description\": " << json_string(d.doc)
        << ",\n    \"items\": " << actors << "}";
    else
      o << key_schema(d, "    ");
  }
  return o.str();
}

} // namespace

std::string json_schema(const kind_registry& kinds) {
  auto actors = object_schema("actors[]", "    ", per_kind_params(kinds));
  std::ostringstream o;
  o << "{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n"
    << "  \"$id\": \"https://loopbridge.dev/schemas/topology.schema.json\",\n"
    << "  \"title\": \"loopbridge topology\",\n"
    << "  \"description\": \"Generated by `loopbridge schema`; do not edit.\",\n"
    << "  \"type\": \"object\",\n  \"additionalProperties\": false,\n  \"required\": "
       "[\"actors\"],\n  \"properties\": {\n";
  o << top_level_properties(actors);
  o << "\n  },\n  \"$defs\": {\"kinds\": {\"enum\": " << kinds_enum(kinds) << "}}\n}\n";
  return o.str();
}

std::string markdown_reference(const kind_registry& kinds) {
  std::ostringstream o;
  std::string section = "\x01";
  auto title = [](const std::string& s) { return s.empty() ? std::string{"top level"} : s; };
  for (auto& d : topology_keys()) {
    if (d.section != section) {
      section = d.section;
      o << "\n### `" << title(section) << "`\n\n| key | type | default | |\n|---|---|---|---|\n";
    }
    std::string type = d.type;
    if (!d.choices.empty()) {
      type = "";
      for (auto& c : d.choices)
        type += (type.empty() ? "" : " \\| ") + c;
    } else if (d.min || d.max) {
      type += " (";
      if (d.min)
        type += std::to_string(*d.min);
      type += "..";
      if (d.max)
        type += std::to_string(*d.max);
      type += ")";
    }
    o << "| `" << d.key << "`" << (d.required ? " (required)" : "") << " | " << type << " | "
      << (d.fallback.empty() ? "" : "`" + d.fallback + "`") << " | " << d.doc << " |\n";
  }
  o << "\n## Kinds and their params\n";
  for (auto& name : kinds.names()) {
    auto* kind = kinds.find(name);
    o << "\n### `" << name << "`\n\n" << (kind->doc.empty() ? "" : kind->doc + "\n\n");
    std::string reqs;
    for (auto& r : kind->requests)
      if (!r.name.empty()) {
        reqs += (reqs.empty() ? "" : ", ") + std::string{"`"} + r.name + "` (";
        for (std::size_t i = 0; i < r.fields.size(); ++i)
          reqs += (i ? ", " : "") + r.fields[i];
        reqs += ")";
      }
    o << "Requests: " << reqs << ".\n\n";
    if (kind->params.empty()) {
      o << "No params.\n";
      continue;
    }
    o << "| param | type | default | range | |\n|---|---|---|---|---|\n";
    for (auto& p : kind->params)
      o << "| `" << p.name << "` | " << to_string(p.type) << " | "
        << (default_text(p).empty() ? "" : "`" + default_text(p) + "`") << " | " << range_text(p)
        << " | " << p.doc << " |\n";
  }
  return o.str();
}

} // namespace loopbridge::config
