#include "loopbridge/config/schema.hpp"

#include <map>
#include <sstream>

#include "loopbridge/actor_spec.hpp"
#include "loopbridge/params.hpp"

namespace loopbridge::config {

namespace {

key_doc k(std::string section, std::string key, std::string type, std::string fallback,
          std::string doc) {
  key_doc d;
  d.section = std::move(section);
  d.key = std::move(key);
  d.type = std::move(type);
  d.fallback = std::move(fallback);
  d.doc = std::move(doc);
  return d;
}
key_doc required(key_doc d) {
  d.required = true;
  return d;
}
key_doc range(key_doc d, std::optional<long long> min, std::optional<long long> max) {
  d.min = min;
  d.max = max;
  return d;
}
key_doc choices(key_doc d, std::vector<std::string> c) {
  d.choices = std::move(c);
  return d;
}

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

const std::vector<key_doc>& topology_keys() {
  static const std::vector<key_doc> keys = {
      k("", "runtime", "map", "", "Runtime-wide settings."),
      required(k("", "actors", "list", "",
                 "The actors to start, in any order (dependencies first "
                 "is decided from depends_on).")),
      k("", "routes", "list", "", "Pipelines: each reply of one actor goes on to another."),
      k("", "workload", "map", "", "What `loopbridge run` drives through the topology."),
      k("", "nodes", "list", "",
        "Other processes to place actors on (`node` of an actor): each runs `loopbridge node "
        "--node NAME FILE`; off loopback they need TLS."),

      range(k("runtime", "scheduler_threads", "integer", "0",
              "Threads that run scheduled actors, in parallel; 0 = one per core."),
            0, 256),
      k("runtime", "slow_handler", "duration", "100ms",
        "A handler (or anything on the event loop's thread) running longer than this is "
        "reported while it runs: a warning, a slow_handler event and a metrics count; 0 = "
        "off."),
      k("runtime", "default_deadline", "duration", "30s",
        "Deadline of requests submitted without one."),
      k("runtime", "shutdown_budget", "duration", "10s",
        "Total time a shutdown may take; what is stuck after it is left behind and reported."),
      range(k("runtime", "default_capacity", "integer", "100000",
              "Mailbox capacity of actors that set none."),
            1, 1000000000),
      choices(k("runtime", "log_level", "enum", "warning", "Log threshold (LOOPBRIDGE_LOG wins)."),
              {"trace", "debug", "info", "warning", "error", "off"}),
      k("runtime", "loop_spin", "duration", "100us",
        "The most the event-loop thread and each idle scheduler thread spin for new work "
        "before they park (adaptive)."),
      k("runtime", "host_spin", "duration", "10us",
        "How long one host thread waiting on a future spins before it parks."),
      k("runtime", "tls", "map", "",
        "The main process's TLS identity toward nodes that use TLS (required when one does; a "
        "node process uses its own `tls` instead); relative paths start from the topology "
        "file's folder."),
      required(k("runtime.tls", "certificate", "string", "",
                 "The main process's certificate (PEM), signed by the nodes' CA.")),
      required(k("runtime.tls", "key", "string", "",
                 "The certificate's private key (PEM; encrypted only with passphrase_env).")),
      required(k("runtime.tls", "cafile", "string", "",
                 "The CA that signed the certificates of every node (PEM).")),
      k("runtime.tls", "passphrase_env", "string", "",
        "The environment variable holding the key's passphrase, for an encrypted key; the "
        "passphrase itself is never written in the topology."),

      required(k("actors[]", "name", "name", "",
                 "Unique name; a letter, then letters, digits, '_', '-' or '.'.")),
      required(k("actors[]", "kind", "string", "", "The actor kind (see the kinds below).")),
      range(k("actors[]", "count", "integer", "",
              "Instances behind the name; more than one makes a pool. Default: 1, or the "
              "kind's own (image_processor: the cores + 1; blocking: the cores + 4, at most 32)."),
            1, max_instances),
      k("actors[]", "mailbox", "map", "", "Bounds on the requests the actor holds."),
      k("actors[]", "restart", "restart", "never",
        "`never`, `on_failure`, or a map with policy, max_restarts and period."),
      k("actors[]", "depends_on", "names", "",
        "Actors that must be ready before this one starts (and stop after it)."),
      k("actors[]", "ready_timeout", "duration", "10s",
        "How long each instance may take to announce ready, counted from when its start "
        "begins (time spent waiting for a thread does not count); it fails between one and "
        "two timeouts after that."),
      range(k("actors[]", "max_suspended", "integer", "0",
              "Requests one instance may hold suspended (its handler returned, the answer comes "
              "later from a continuation, a timer or another thread) before it takes no new "
              "request until one ends; 0: bounded by the mailbox's capacity only."),
            0, 1000000000),
      k("actors[]", "params", "params", "", "The kind's parameters (see the kinds below)."),
      k("actors[]", "node", "name", "",
        "The node the actor runs on (one of nodes); unset: the main process. Kinds whose "
        "requests have no wire form (offloaded functions, types without inspect) stay in the "
        "main process."),
      k("actors[]", "resend_lost", "boolean", "false",
        "For an actor on a node: requests in flight there when the node is lost are sent again "
        "once it is back (each within its deadline) instead of failing with node.lost. Only "
        "for idempotent kinds: such a request may run twice."),

      range(k("actors[].mailbox", "capacity", "integer", "runtime.default_capacity",
              "Requests accepted and not yet finished (queued plus in flight)."),
            1, 1000000000),
      choices(k("actors[].mailbox", "overflow", "enum", "block",
                "When full: block the submitter up to its deadline, reject the new request, or "
                "drop the oldest queued one (both with loop.overloaded)."),
              {"block", "reject", "drop_oldest"}),

      choices(
          k("actors[].restart", "policy", "enum", "never", "Restart a failed instance, or not."),
          {"never", "on_failure"}),
      range(k("actors[].restart", "max_restarts", "integer", "3",
              "Restarts allowed within period before the actor stops."),
            0, 1000000),
      k("actors[].restart", "period", "duration", "60s", "The window max_restarts counts in."),

      required(k("routes[]", "from", "string", "", "The actor whose replies are sent on.")),
      required(k("routes[]", "to", "string", "", "The actor that receives them as requests.")),

      required(k("workload", "entry", "string", "", "The actor that receives the requests.")),
      k("workload", "request", "string", "",
        "The request's name (required when the entry's kind serves more than one)."),
      k("workload", "requests", "requests", "",
        "Listed requests: one map of fields each (sent in order, repeated up to total)."),
      k("workload", "generate", "map", "",
        "Generated requests: a count and a map of fields whose strings may contain {i}."),
      range(k("workload", "total", "integer", "",
              "Requests to send in all (default: the listed or generated count)."),
            1, std::nullopt),
      range(k("workload", "concurrency", "integer", "16", "Requests in flight at once."), 1,
            100000),
      k("workload", "timeout", "duration", "",
        "Deadline of each request (default: "
        "runtime.default_deadline)."),
      k("workload", "context", "map", "",
        "Context fields of each request (placeholders as in generate.fields); route adapters "
        "and workers see them."),

      required(range(k("workload.generate", "count", "integer", "", "How many requests."), 1,
                     100000000)),
      k("workload.generate", "fields", "fields", "",
        "The request's fields. In strings, `{i}` becomes the request's index, `{i%N}` the index "
        "modulo N, and `${actor.key}` a field the actor announced when it became ready "
        "(`${origin.url}`)."),

      required(k("nodes[]", "name", "name", "",
                 "Unique name; a letter, then letters, digits, '_', '-' or '.'.")),
      required(k("nodes[]", "address", "string", "",
                 "host:port (IPv6 in brackets) the node listens on and the main process "
                 "connects to. Any address but a loopback one needs tls.")),
      k("nodes[]", "secret_env", "string", "LOOPBRIDGE_NODE_SECRET",
        "The environment variable holding the secret every connection to the node proves it "
        "knows, on both sides (at least 16 characters); the secret itself is never written in "
        "the topology."),
      k("nodes[]", "tls", "map", "",
        "The node's TLS identity (required off loopback): every connection to it is TLS, and "
        "both sides must hold a certificate the other's cafile accepts; "
        "relative paths start from the topology file's folder."),
      required(k("nodes[].tls", "certificate", "string", "", "The node's certificate (PEM).")),
      required(k("nodes[].tls", "key", "string", "",
                 "The certificate's private key (PEM; encrypted only with passphrase_env).")),
      required(k("nodes[].tls", "cafile", "string", "",
                 "The CA that signed the certificates of every node (PEM).")),
      k("nodes[].tls", "passphrase_env", "string", "",
        "The environment variable holding the key's passphrase, for an encrypted key; the "
        "passphrase itself is never written in the topology."),
  };
  return keys;
}

std::vector<std::string> keys_of(std::string_view section) {
  std::vector<std::string> out;
  for (auto& d : topology_keys())
    if (d.section == section)
      out.push_back(d.key);
  return out;
}

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
