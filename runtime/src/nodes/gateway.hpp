#pragma once

// The gateway: how a node's runtime serves a main runtime (see node_protocol.hpp).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loop/caf_types.hpp"
#include "nodes/node_protocol.hpp"
#include "nodes/node_tls.hpp"

#include "loopbridge/runtime_options.hpp"

namespace loopbridge::detail {

class runtime_core;
class loop_thread;

/// The one actor a node publishes: it admits a main process that proves it knows the node's
/// secret, submits the calls it sends to this runtime's actors, answers each once it ended,
/// answers its link's pings, and cancels what a main process left behind when its connection
/// goes or it sent nothing for `node_silence` (then it must connect and prove itself again).
///
/// Threads: a guest of the loop thread (`loop_thread::host`): what it submits reaches the loop
/// without waking another thread, and the loop's thread, woken for the report of a request
/// that ended, sends its answer in the same turn. Its handlers never block (submissions to a
/// full actor with the `block` policy wait in the loop, as for any handler). Ordering: answers
/// to one caller leave in the order the requests ended, several to a message.
class gateway : public caf::event_based_actor {
public:
  /// `tls`: the node's identity when it is served over TLS (its key signs the challenge).
  /// `thread`: the loop thread it runs on.
  gateway(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, loop_thread* thread,
          std::string node, std::string secret, std::string app_id, tls_spec tls);
  ~gateway() override;
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  caf::behavior make_behavior() override;
  void on_exit() override;
  const char* name() const override { return "loopbridge.gateway"; }

private:
  /// A main process that connected: its challenge, and whether it answered it.
  struct peer {
    std::string link_nonce;
    std::string gateway_nonce;
    bool proven = false;
    std::chrono::steady_clock::time_point heard; ///< its last message
  };
  /// A call submitted to this runtime, until it ended.
  struct call {
    caf::node_id from;
    std::uint64_t id = 0; ///< the caller's id for it
    request_ref st;
    record_ptr target; ///< keeps the record `st->target` points at
    const request_entry* entry = nullptr;
    caf::actor caller;
  };
  /// Answers waiting to go to one caller.
  struct pending {
    std::vector<node_answer> answers;
    std::size_t bytes = 0; ///< of their replies
  };

  void hello(const std::string& app_id, const std::string& link_nonce);
  void prove(const std::string& proof);
  void calls(std::vector<node_call>& batch);
  void serve(const caf::actor& caller, const caf::node_id& from, node_call& c);
  void cancel(std::uint64_t id);
  void done(std::uint64_t key);
  void answer(const caf::actor& caller, node_answer a);
  void send_answers(const caf::actor& caller, pending& out);
  void flush();
  /// The main process on `from` is gone: cancels what it left running.
  void forget(const caf::node_id& from);
  /// Forgets the proven main processes silent for `node_silence`; again after `node_heartbeat`
  /// while any is left.
  void tick();
  /// The caller's node, if it proved it knows the secret; else refuses it.
  const caf::node_id* proven_sender();
  std::vector<char> welcome() const;

  std::shared_ptr<runtime_core> core_;
  loop_thread* thread_;
  std::string node_;
  std::string secret_;
  std::string app_id_;
  std::optional<tls_signer> signer_; ///< the node's TLS key, when it is served over TLS
  ref_ptr<completion_listener> listener_;
  std::map<caf::node_id, peer> peers_;
  std::unordered_map<std::uint64_t, call> calls_; ///< by key (the listener's cookie)
  std::map<std::pair<caf::node_id, std::uint64_t>, std::uint64_t> keys_; ///< (from, id) -> key
  std::uint64_t next_key_ = 1;
  std::map<caf::actor, pending> outbox_;
  bool flush_sent_ = false;
  bool ticking_ = false;                         ///< a `node_tick_atom` is on its way
  std::chrono::steady_clock::time_point ticked_; ///< the last tick
};

} // namespace loopbridge::detail
