#pragma once

// The main runtime's connection to one node.

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/caf_types.hpp"
#include "nodes/node_protocol.hpp"

#include "loopbridge/topology.hpp"

namespace loopbridge::detail {

class runtime_core;

/// The main runtime's side of one node: connects to the node's gateway, proves the secret and
/// checks the node's proof, and tells the instances of the actors placed there when the node
/// is up (with the gateway's handle) or down (with why). A lost connection is retried, with a
/// growing pause, until the runtime stops; a node that comes back is announced up again.
///
/// While up, it pings the gateway every `node_heartbeat`; a node that answers nothing for
/// `node_silence` is lost (frozen, overloaded or cut off), though a link that did not run for a
/// while itself (its process was frozen) listens afresh instead of blaming the node.
///
/// Connecting never blocks this actor or the event loop: a thread of the runtime's thread
/// registry first checks that the address accepts a TCP connection within
/// `node_connect_timeout` (CAF's own connect can wait minutes for a peer that drops packets,
/// and holds up other connects meanwhile), then this actor asks CAF's middleman actor for the
/// gateway, with the same deadline for CAF's handshake.
///
/// Threads: a scheduled CAF actor. Protocol: `(node_attach_atom, host)` from instances; sends
/// `(node_up_atom, gateway, actors)` and `(node_down_atom, error)` to them; pings the gateway.
class node_link : public caf::event_based_actor {
public:
  node_link(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, node_spec node,
            std::string secret, std::string app_id);
  ~node_link() override;
  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.node_link"; }

private:
  enum class phase { connecting, proving, up, down };

  void connect();
  /// CAF's connect and handshake for `attempt`, within `node_connect_timeout`.
  void handshake(std::uint64_t attempt);
  void connected(caf::actor gateway);
  /// The gateway's challenge: checks its proof of the secret and, over TLS, that `identity` is
  /// signed with the key of the certificate the topology names for the node.
  void challenged(const std::string& gateway_nonce, const std::string& proof,
                  const std::string& identity);
  void welcomed(std::vector<char> actors);
  /// The connection failed or went: tells every instance, and tries again later.
  void lost(error why);
  void tell_up(const caf::actor& host);
  /// While up: counts the node lost after `node_silence` without a pong; else pings it.
  void tick();

  std::shared_ptr<runtime_core> core_;
  node_spec node_;
  std::string secret_;
  std::string app_id_;
  phase phase_ = phase::down;
  std::uint64_t attempt_ = 0; ///< counts connection attempts: late reports of old ones are dropped
  std::chrono::steady_clock::time_point heard_;  ///< the gateway's last pong (or the welcome)
  std::chrono::steady_clock::time_point ticked_; ///< the last liveness tick
  std::uint64_t pings_ = 0;
  caf::actor gateway_;
  std::string link_nonce_;
  std::vector<char> actors_; ///< the node's welcome: the actors it runs
  std::unordered_map<caf::actor_addr, caf::actor> hosts_; ///< the node's instances here
  std::chrono::milliseconds pause_;                       ///< before the next attempt
  error last_failure_;
  bool ever_up_ = false;
};

} // namespace loopbridge::detail
