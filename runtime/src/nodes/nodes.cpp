// The runtime's nodes: which actors may be placed where, the links to the nodes in use, and
// serving as a node.
#include "runtime_core.hpp"

#include <cstdlib>

#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>

#include "nodes/gateway.hpp"
#include "nodes/node_link.hpp"
#include "nodes/node_tls.hpp"
#include "tuning.hpp"

#include "loopbridge/log.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

namespace {

/// The shortest secret a node accepts: guessing it must be out of reach.
constexpr std::size_t min_secret_size = 16;

bool same_tls(const tls_spec& a, const tls_spec& b) {
  return a.certificate == b.certificate && a.key == b.key && a.cafile == b.cafile &&
         a.passphrase_env == b.passphrase_env;
}

bool same_node(const node_spec& a, const node_spec& b) {
  return a.host == b.host && a.port == b.port && a.secret_env == b.secret_env &&
         same_tls(a.tls, b.tls);
}

} // namespace

void runtime_core::load_network(caf::actor_system_config& cfg, const std::string& app_id) {
  cfg.load<caf::io::middleman>();
  add_node_message_types(cfg);
  cfg.set("middleman.app-identifiers", std::vector<std::string>{app_id});
  // What arrives is decoded on CAF's network thread and goes straight to its actor (a guest of
  // the loop thread, or a worker): a deserialization worker on the scheduler would be one more
  // thread to wake per message.
  cfg.set("middleman.workers", size_t{0});
  // CAF's heartbeats stay off (its default): the gateway protocol pings (node_link, gateway).
}

result<std::string> runtime_core::node_secret(const node_spec& node) const {
  if (node.tls.enabled()) {
    if (!options_.tls.enabled())
      return error{errc::bad_request,
                   "node " + quote(node.name) +
                       " uses TLS, but this process has no TLS identity: set runtime.tls (its "
                       "certificate, key and cafile; runtime_options::tls from code)"};
    if (!tls_problem_.empty())
      return error{errc::bad_request, "node " + quote(node.name) +
                                          " uses TLS, but this process's TLS identity cannot "
                                          "be used: " +
                                          tls_problem_};
  }
  const char* secret = std::getenv(node.secret_env.c_str());
  if (!secret || !*secret)
    return error{errc::bad_request, "node " + quote(node.name) + ": the secret variable " +
                                        node.secret_env +
                                        " is not set (every process of the "
                                        "topology needs the same secret there)"};
  if (std::string_view{secret}.size() < min_secret_size)
    return error{errc::bad_request, "node " + quote(node.name) + ": the secret in " +
                                        node.secret_env + " is shorter than " +
                                        std::to_string(min_secret_size) + " characters"};
  return std::string{secret};
}

result<void> runtime_core::add_nodes(const std::vector<node_spec>& nodes) {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  for (auto& n : nodes)
    if (auto it = nodes_.find(n.name); it != nodes_.end() && !same_node(it->second, n))
      return error{errc::bad_request,
                   "node " + quote(n.name) + " is declared already, at " + it->second.address()};
  for (auto& n : nodes)
    nodes_.emplace(n.name, n);
  return {};
}

std::string runtime_core::placement_problem(const actor_spec& spec,
                                            const kind_descriptor& kind) const {
  if (spec.node.empty())
    return spec.resend_lost ? "actor " + quote(spec.name) +
                                  " sets resend_lost, which only an actor placed on a node has"
                            : std::string{};
  auto where = "actor " + quote(spec.name) + " is placed on node " + quote(spec.node);
  if (!options_.network)
    return where + ", but this runtime was made without nodes: make it with the topology "
                   "that declares them (or set runtime_options::network)";
  node_spec node;
  {
    std::lock_guard<std::mutex> guard{nodes_mutex_};
    auto it = nodes_.find(spec.node);
    if (it == nodes_.end()) {
      std::vector<std::string> names;
      for (auto& [n, _] : nodes_)
        names.push_back(n);
      auto hint = did_you_mean(spec.node, names);
      return where + ", which is not declared" + (hint.empty() ? "" : " (" + hint + ")");
    }
    node = it->second;
  }
  if (auto* r = kind.local_only_request())
    return where + ", but kind " + quote(kind.name) + " cannot leave this process: its request " +
           quote(r->type_name) + " has no wire form";
  if (auto secret = node_secret(node); !secret)
    return "actor " + quote(spec.name) + ": " + secret.error().message();
  if (node.tls.enabled())
    if (auto problem = tls_certificate_problem(node.tls.certificate); !problem.empty())
      return where +
             ", whose certificate this process must read to check the node's "
             "identity: " +
             problem;
  return {};
}

result<caf::actor> runtime_core::node_link(std::string_view name) {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  if (auto it = links_.find(name); it != links_.end())
    return it->second;
  auto it = nodes_.find(name);
  if (it == nodes_.end())
    return error{errc::not_found, "no node " + quote(name)};
  auto secret = node_secret(it->second);
  if (!secret)
    return std::move(secret).error();
  gate_pass pass{system_gate_};
  if (!pass)
    return error{errc::stopped, "the runtime is stopped"};
  auto link = system_->spawn<detail::node_link>(shared_from_this(), it->second, std::move(*secret),
                                                app_id_);
  links_.emplace(it->first, link);
  return link;
}

result<std::uint16_t> runtime_core::serve_node(const node_spec& node) {
  if (!options_.network)
    return error{errc::bad_request, "serving as node " + quote(node.name) +
                                        " needs a runtime made with runtime_options::network"};
  auto secret = node_secret(node);
  if (!secret)
    return std::move(secret).error();
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  if (gateway_)
    return error{errc::bad_request, "this runtime serves as a node already"};
  gate_pass pass{system_gate_};
  if (!pass)
    return error{errc::stopped, "the runtime is stopped"};
  if (node.tls.enabled() && !same_tls(node.tls, options_.tls))
    return error{errc::bad_request, "node " + quote(node.name) +
                                        " is served over TLS with its own identity: make the "
                                        "runtime with runtime_options::tls set to the node's tls"};
  // Made at its first message, on the loop thread like every later one.
  auto g = system_->spawn<gateway, caf::lazy_init>(
      shared_from_this(), loop_thread_.get(), node.name, std::move(*secret), app_id_, node.tls);
  auto port = node.tls.enabled()
                  ? caf::openssl::publish(g, node.port, node.host.c_str(), true)
                  : system_->middleman().publish(g, node.port, node.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
    return error{errc::bad_request, "node " + quote(node.name) + " cannot listen on " +
                                        node.address() + ": " + system_->render(port.error())};
  }
  gateway_ = g;
  LB_LOG(info, "node", "serving as node " << node.name << " on " << node.host << ":" << *port);
  return *port;
}

std::optional<error> runtime_core::node_failure(std::string_view name) const {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  auto it = node_states_.find(name);
  if (it == node_states_.end())
    return std::nullopt;
  return it->second.failure;
}

void runtime_core::set_node_failure(std::string_view name, std::optional<error> why) {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  auto& n = node_states_[std::string{name}];
  if (!why && !n.up)
    ++n.connects;
  else if (why && n.up)
    ++n.losses;
  n.up = !why;
  n.failure = std::move(why);
}

std::shared_ptr<node_traffic> runtime_core::traffic(std::string_view name) {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  return node_states_[std::string{name}].traffic;
}

std::vector<node_metrics> runtime_core::nodes() const {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  std::vector<node_metrics> out;
  for (auto& [name, spec] : nodes_) {
    node_metrics m;
    m.name = name;
    m.address = spec.address();
    if (auto it = node_states_.find(name); it != node_states_.end()) {
      auto& n = it->second;
      m.up = n.up;
      m.connects = n.connects;
      m.losses = n.losses;
      m.failure = n.failure;
      auto& t = *n.traffic;
      m.sent = t.sent.load(std::memory_order_relaxed);
      m.answered = t.answered.load(std::memory_order_relaxed);
      m.lost = t.lost.load(std::memory_order_relaxed);
      m.resent = t.resent.load(std::memory_order_relaxed);
      m.in_flight = t.in_flight.load(std::memory_order_relaxed);
      m.bytes_sent = t.bytes_sent.load(std::memory_order_relaxed);
      m.bytes_received = t.bytes_received.load(std::memory_order_relaxed);
    }
    out.push_back(std::move(m));
  }
  return out;
}

void runtime_core::stop_nodes() {
  std::lock_guard<std::mutex> guard{nodes_mutex_};
  for (auto& [name, link] : links_)
    caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
  links_.clear();
  if (gateway_) {
    system_->middleman().unpublish(gateway_);
    caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
    gateway_ = nullptr;
  }
}

} // namespace loopbridge::detail
