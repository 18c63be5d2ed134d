#pragma once

// The gateway protocol: what a main runtime and a node (another process running some of the
// topology's actors) say to each other through CAF's middleman. Messages hold CAF's built-in
// types and two flat structs registered with CAF (`add_node_message_types`: numbers, strings
// and byte buffers, nothing that nests); requests, replies and contexts travel as their wire
// form (`kind.hpp`) inside byte buffers, which the receiver decodes with the checks untrusted
// bytes need (bounded sequences and nesting) only after the sender proved the secret.
//
// A connection, after CAF's own handshake (which refuses another build through
// `middleman.app-identifiers`):
//   link -> gateway   (node_hello_atom, app id, link nonce)
//   gateway -> link   (node_challenge_atom, gateway nonce, gateway proof, identity)
//                                                                   or node_refused_atom
//   link -> gateway   (node_prove_atom, link proof)       once the gateway's proof checked out
//   gateway -> link   (node_welcome_atom, wire form of std::vector<node_actor>)  or refused
// Then, from the main process's instances of the node's actors:
//   host -> gateway   (node_calls_atom, std::vector<node_call>)
//   host -> gateway   (node_cancel_atom, request id)
//   gateway -> host   (node_answers_atom, std::vector<node_answer>)
// and, while the link is up, every `node_heartbeat`:
//   link -> gateway   (node_ping_atom, sequence)
//   gateway -> link   (node_pong_atom, sequence)        or node_refused_atom
// The gateway serves calls only from a process that proved it knows the secret. Over TLS the
// gateway also signs `node_identity_message` with its TLS key (`identity`; empty without TLS),
// and the link checks it against the certificate the topology names for the node: the CA
// vouches only that the peer is one of its certificates, the signature that it is this node's.
//
// Liveness is the protocol's own, not CAF's (whose heartbeats are off): a link that hears no
// pong for `node_silence` counts the node lost, and a gateway that hears nothing from a main
// process for as long forgets it and cancels what it left running. (CAF 0.17 would also drop a
// connection whose handshake outlasted one heartbeat interval: a slow TLS handshake, a busy
// peer.)

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "nodes/wire_body.hpp"

#include "loopbridge/detail/byte_field.hpp"
#include "loopbridge/error.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/kind_registry.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge::detail {

using node_hello_atom = caf::atom_constant<caf::atom("lbn_hello")>;
using node_challenge_atom = caf::atom_constant<caf::atom("lbn_chal")>;
using node_prove_atom = caf::atom_constant<caf::atom("lbn_prove")>;
using node_welcome_atom = caf::atom_constant<caf::atom("lbn_welcom")>;
using node_refused_atom = caf::atom_constant<caf::atom("lbn_refuse")>;
using node_calls_atom = caf::atom_constant<caf::atom("lbn_calls")>;
using node_cancel_atom = caf::atom_constant<caf::atom("lbn_cancel")>;
using node_answers_atom = caf::atom_constant<caf::atom("lbn_answer")>;
using node_ping_atom = caf::atom_constant<caf::atom("lbn_ping")>;
using node_pong_atom = caf::atom_constant<caf::atom("lbn_pong")>;

// Inside one process.
/// link -> host: `(node_up_atom, gateway, wire form of std::vector<node_actor>)`.
using node_up_atom = caf::atom_constant<caf::atom("lbn_up")>;
/// link -> host: `(node_down_atom, error)`: the connection is gone (or never came).
using node_down_atom = caf::atom_constant<caf::atom("lbn_down")>;
/// host -> link: `(node_attach_atom, host)`: tell this instance when the node is up or down.
using node_attach_atom = caf::atom_constant<caf::atom("lbn_attach")>;
/// connector thread -> link: `(node_connected_atom, attempt)` once the address accepts TCP, or
/// `(..., attempt, error)`.
using node_connected_atom = caf::atom_constant<caf::atom("lbn_conn")>;
/// link -> itself: try to connect again.
using node_retry_atom = caf::atom_constant<caf::atom("lbn_retry")>;
/// completion listener -> gateway: `(node_done_atom, key)`.
using node_done_atom = caf::atom_constant<caf::atom("lbn_done")>;
/// gateway -> itself: send the answers collected since the last flush.
using node_flush_atom = caf::atom_constant<caf::atom("lbn_flush")>;
/// link -> itself: `(node_tick_atom, attempt)`, time to ping; gateway -> itself:
/// `(node_tick_atom)`, time to look for silent main processes.
using node_tick_atom = caf::atom_constant<caf::atom("lbn_tick")>;

/// One request for an actor on the node.
struct node_call {
  std::uint64_t id = 0; ///< the main runtime's request id (unique in that process)
  std::string actor;
  std::string request; ///< the request's name (`request_entry::name`)
  /// Time left until its deadline, in nanoseconds; 0: none (the node's default applies).
  std::int64_t budget_ns = 0;
  wire_body body;            ///< the request's wire form
  std::vector<char> context; ///< the wire form of its context's fields (a `value::map`)
  template <class Inspector>
  friend auto inspect(Inspector& f, node_call& x) {
    return f(caf::meta::type_name("node_call"), x.id, x.actor, x.request, x.budget_ns, x.body,
             byte_field{x.context});
  }
};

/// How one request ended on the node. (The error travels as its three strings: inside the
/// runtime, `loopbridge::error` is a CAF message type that serializes to nothing.)
struct node_answer {
  std::uint64_t id = 0;
  bool failed = false;
  wire_body body;     ///< the reply's wire form (empty when it failed)
  std::string domain; ///< the error's, when it failed
  std::string code;
  std::string message;

  void set_failure(const error& e) {
    failed = true;
    body = {};
    domain = e.domain();
    code = e.code();
    message = e.message();
  }
  error failure() const { return error{error_code{domain, code}, message}; }

  template <class Inspector>
  friend auto inspect(Inspector& f, node_answer& x) {
    return f(caf::meta::type_name("node_answer"), x.id, x.failed, x.body, x.domain, x.code,
             x.message);
  }
};

/// An actor the node runs, as its welcome lists them.
struct node_actor {
  std::string name;
  std::string kind;
  value info; ///< what its instance 0 announced when ready
  template <class Inspector>
  friend auto inspect(Inspector& f, node_actor& x) {
    return f(caf::meta::type_name("node_actor"), x.name, x.kind, x.info);
  }
};

/// Registers `node_call` and `node_answer` (and vectors of them) with CAF, under the same names
/// in every process.
void add_node_message_types(caf::actor_system_config& cfg);

/// The application identifier both sides set as `middleman.app-identifiers`: the protocol's
/// version and a hash of every kind's name and request and reply types (names, fields), so a
/// process of another build — or with other kinds — is refused at CAF's handshake.
std::string node_app_id(const kind_registry& kinds);

/// Random bytes for a challenge, hex-encoded (32 bytes of the system's CSPRNG): `node_nonce_size`
/// characters.
std::string node_nonce();
inline constexpr std::size_t node_nonce_size = 64;

/// The proof that a side knows `secret`: HMAC-SHA256 over `role`, then both nonces, hex-encoded.
/// `role` keeps the link's proof from being replayed as the gateway's.
std::string node_proof(const std::string& secret, std::string_view role,
                       const std::string& first_nonce, const std::string& second_nonce);

/// What a TLS node signs to prove it is the node the topology names: its name and both nonces.
inline std::string node_identity_message(const std::string& node, const std::string& link_nonce,
                                         const std::string& gateway_nonce) {
  return "loopbridge node identity\n" + node + "\n" + link_nonce + "\n" + gateway_nonce;
}

/// `n` bytes at `data` as lowercase hex (nonces, proofs, signatures).
std::string node_hex(const unsigned char* data, std::size_t n);

/// Compares two proofs in constant time.
bool node_proofs_equal(const std::string& a, const std::string& b) noexcept;

} // namespace loopbridge::detail
