// A topology's nodes (the other processes that run some of its actors) and each actor's
// placement on one of them: names, addresses, the secret's variable, TLS files, and which
// kinds may leave the main process at all.
#include <algorithm>
#include <filesystem>

#include "topology_loader.hpp"

#include "loopbridge/config/schema.hpp"

namespace loopbridge::config::detail {

namespace {

const std::vector<std::string> node_keys = keys_of("nodes[]");

struct address {
  std::string host;
  std::uint16_t port = 0;
};

/// `host:port` or `[v6]:port`; the problem in words when it is neither.
std::optional<address> parse_address(const std::string& s, std::string& problem) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) {
    problem = "expected host:port, got " + quote(s);
    return std::nullopt;
  }
  address a;
  a.host = s.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  else if (a.host.find(':') != std::string::npos) {
    problem = "an IPv6 address goes in brackets: [" + a.host + "]:" + s.substr(colon + 1);
    return std::nullopt;
  }
  if (a.host.empty()) {
    problem = "the address " + quote(s) + " has no host";
    return std::nullopt;
  }
  auto digits = s.substr(colon + 1);
  if (digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    problem = "the port of " + quote(s) + " is not a number";
    return std::nullopt;
  }
  auto port = std::stoul(digits);
  if (port == 0 || port > 65535) {
    problem = "the port of " + quote(s) + " is not from 1 to 65535";
    return std::nullopt;
  }
  a.port = static_cast<std::uint16_t>(port);
  return a;
}

bool env_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

} // namespace

std::vector<node_spec> topology_loader::load_nodes(const YAML::Node& n) {
  std::vector<node_spec> out;
  if (!yaml_.expect_list(n, "nodes", "a list of nodes (maps with name and address)"))
    return out;
  std::map<std::string, YAML::Node> names, addresses;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto path = index("nodes", i);
    auto node = load_node(n[i], path);
    if (!node)
      continue;
    auto name_at = n[i]["name"];
    if (auto [it, fresh] = names.emplace(node->name, name_at); !fresh)
      yaml_.add(name_at, join(path, "name"), "duplicate node name " + quote(node->name),
                "first defined at line " + std::to_string(it->second.Mark().line + 1));
    auto where = node->address();
    auto address_at = n[i]["address"];
    if (auto [it, fresh] = addresses.emplace(where, address_at); !fresh)
      yaml_.add(address_at, join(path, "address"), "two nodes at the same address " + quote(where),
                "first used at line " + std::to_string(it->second.Mark().line + 1));
    out.push_back(std::move(*node));
  }
  for (auto& node : out)
    node_names_.push_back(node.name);
  return out;
}

std::optional<node_spec> topology_loader::load_node(const YAML::Node& n, const std::string& path) {
  if (!yaml_.expect_map(n, path, "a node (a map with name and address)"))
    return std::nullopt;
  node_spec node;
  bool has_name = false, has_address = false, ok = true;
  std::optional<YAML::Node> address_node, tls_node;
  for (auto& [key, v] : yaml_.entries(n, path, node_keys)) {
    auto p = join(path, key);
    if (key == "name") {
      has_name = true;
      if (auto s = yaml_.string(v, p); s && valid_name(*s))
        node.name = *s;
      else if (s)
        yaml_.add(v, p, "invalid node name " + quote(*s), name_rule);
      ok = ok && !node.name.empty();
    } else if (key == "address") {
      has_address = true;
      address_node = v;
      std::string problem;
      auto s = yaml_.string(v, p);
      auto a = s ? parse_address(*s, problem) : std::nullopt;
      if (s && !a)
        yaml_.add(v, p, problem, "for example 127.0.0.1:7401 or [::1]:7401");
      if (a) {
        node.host = a->host;
        node.port = a->port;
      }
      ok = ok && a.has_value();
    } else if (key == "secret_env") {
      auto s = yaml_.string(v, p);
      if (s && env_name(*s))
        node.secret_env = *s;
      else if (s)
        yaml_.add(v, p, "invalid environment variable name " + quote(*s),
                  "letters, digits and '_', not starting with a digit");
    } else if (key == "tls") {
      tls_node = v;
      node.tls = load_tls(v, p, "nodes[].tls");
    }
  }
  yaml_.require(has_name, n, path, "name");
  yaml_.require(has_address, n, path, "address");
  if (address_node && node.port != 0 && !node.on_loopback() && !tls_node)
    yaml_.add(*address_node, join(path, "address"),
              "node " + quote(node.name) + " listens on " + quote(node.host) +
                  ", which is not a loopback address, without TLS",
              "add tls (certificate, key, cafile), or use 127.0.0.1");
  if (!has_name || !has_address || !ok)
    return std::nullopt;
  return node;
}

tls_spec topology_loader::load_tls(const YAML::Node& n, const std::string& path,
                                   const std::string& section) {
  auto tls_keys = keys_of(section);
  tls_spec tls;
  if (!yaml_.expect_map(n, path, "a map with certificate, key and cafile"))
    return tls;
  auto folder = std::filesystem::path{yaml_.file()}.parent_path();
  for (auto& [key, v] : yaml_.entries(n, path, tls_keys)) {
    auto p = join(path, key);
    auto s = yaml_.string(v, p);
    if (!s)
      continue;
    if (key == "passphrase_env") { // a variable's name, not a file
      if (env_name(*s))
        tls.passphrase_env = *s;
      else
        yaml_.add(v, p, "invalid environment variable name " + quote(*s),
                  "letters, digits and '_', not starting with a digit");
      continue;
    }
    auto file = std::filesystem::path{*s};
    if (file.is_relative())
      file = folder / file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
      yaml_.add(v, p, "no file " + quote(*s),
                file == *s ? "" : "relative paths start from the topology file's folder");
    (key == "certificate" ? tls.certificate : key == "key" ? tls.key : tls.cafile) = file.string();
  }
  for (const char* key : {"certificate", "key", "cafile"})
    yaml_.require(n[key].IsDefined(), n, path, key);
  return tls;
}

void topology_loader::check_placements(const std::vector<actor_spec>& actors) {
  for (std::size_t i = 0; i < actors.size(); ++i) {
    auto& a = actors[i];
    if (a.node.empty())
      continue;
    auto it = placement_nodes_.find(index("actors", i));
    auto at = it != placement_nodes_.end() ? it->second : actor_nodes_[i];
    auto path = join(index("actors", i), "node");
    if (std::find(node_names_.begin(), node_names_.end(), a.node) == node_names_.end())
      yaml_.add(at, path, "unknown node " + quote(a.node),
                node_names_.empty() ? "declare it under nodes"
                                    : unknown_name_hint(a.node, node_names_, "declared nodes"));
    auto* kind = kinds_.find(a.kind);
    if (!kind)
      continue; // reported with the kind
    if (auto* r = kind->local_only_request())
      yaml_.add(at, path,
                "actor " + quote(a.name) + " of kind " + quote(a.kind) +
                    " cannot run on another node: " +
                    (r->type_name.empty()
                         ? std::string{"it runs offloaded functions"}
                         : "its request " + quote(r->type_name) + " has no wire form (no inspect)"),
                "leave node unset to run it in the main process");
  }
}

} // namespace loopbridge::config::detail
