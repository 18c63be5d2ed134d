// The gateway: a node's runtime serving the calls of a main runtime.
#include "nodes/gateway.hpp"

#include "loop/loop_thread.hpp"
#include "nodes/node_tls.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"

#include "loopbridge/detail/wire_form.hpp"
#include "loopbridge/log.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

namespace {

/// Tells the gateway that a call it submitted ended. Runs on whichever thread ended it: one
/// message, no wait.
class gateway_listener final : public completion_listener {
public:
  gateway_listener(std::weak_ptr<runtime_core> core, caf::actor_addr gateway)
      : core_(std::move(core)),
        gateway_(std::move(gateway)) {}
  void notify(std::uintptr_t cookie) noexcept override {
    if (auto core = core_.lock())
      core->send_to(gateway_, node_done_atom::value, static_cast<std::uint64_t>(cookie));
  }

private:
  std::weak_ptr<runtime_core> core_;
  caf::actor_addr gateway_;
};

std::string peer_name(const caf::node_id& n) {
  return "process " + caf::to_string(n);
}

} // namespace

gateway::gateway(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, loop_thread* thread,
                 std::string node, std::string secret, std::string app_id, tls_spec tls)
    : caf::event_based_actor(cfg),
      core_(std::move(core)),
      thread_(thread),
      node_(std::move(node)),
      secret_(std::move(secret)),
      app_id_(std::move(app_id)) {
  if (tls.enabled())
    signer_.emplace(tls); // read once, not at each connection
}

gateway::~gateway() = default;

void gateway::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit*) {
  enqueue_guest(*this, std::move(ptr), *thread_);
}

caf::behavior gateway::make_behavior() {
  listener_ = make_ref<gateway_listener>(core_, address());
  // A main process that connected is monitored: when its connection goes, CAF reports its
  // link actor down and what it left running is cancelled.
  set_down_handler([this](caf::down_msg& m) { forget(m.source.node()); });
  return {
      [this](node_hello_atom, const std::string& app_id, const std::string& nonce) {
        hello(app_id, nonce);
      },
      [this](node_prove_atom, const std::string& proof) { prove(proof); },
      [this](node_calls_atom, std::vector<node_call>& batch) { calls(batch); },
      [this](node_cancel_atom, std::uint64_t id) { cancel(id); },
      [this](node_done_atom, std::uint64_t key) { done(key); },
      [this](node_flush_atom) { flush(); },
      [this](node_ping_atom, std::uint64_t sequence) {
        if (proven_sender()) // else refused: the link connects and proves itself again
          send(caf::actor_cast<caf::actor>(current_sender()), node_pong_atom::value, sequence);
      },
      [this](node_tick_atom) {
        ticking_ = false;
        tick();
      },
  };
}

void gateway::on_exit() {
  for (auto& [key, c] : calls_)
    core_->cancel(c.st, error{errc::stopped, "node " + node_ + " stopped"});
  calls_.clear();
  keys_.clear();
  outbox_.clear();
  listener_.reset();
  core_.reset();
}

void gateway::hello(const std::string& app_id, const std::string& link_nonce) {
  auto sender = current_sender();
  if (!sender)
    return;
  auto caller = caf::actor_cast<caf::actor>(sender);
  if (app_id != app_id_) {
    LB_LOG(warning, "node",
           "node " << node_ << " refused " << peer_name(sender->node()) << ": another build ("
                   << app_id << ", this node runs " << app_id_ << ")");
    send(caller, node_refused_atom::value,
         "node " + node_ + " runs another build of the kinds (" + app_id_ + ", this process " +
             app_id + ")");
    return;
  }
  if (link_nonce.size() != node_nonce_size) {
    send(caller, node_refused_atom::value, std::string{"malformed hello"});
    return;
  }
  auto& p = peers_[sender->node()];
  p.link_nonce = link_nonce;
  p.gateway_nonce = node_nonce();
  p.proven = false;
  std::string identity;
  if (signer_) {
    auto signature = signer_->sign(node_identity_message(node_, link_nonce, p.gateway_nonce));
    if (!signature) {
      auto why = "node " + node_ + " cannot prove its identity: " + signature.error().message();
      LB_LOG(warning, "node", why);
      peers_.erase(sender->node());
      send(caller, node_refused_atom::value, why);
      return;
    }
    identity = std::move(*signature);
  }
  monitor(sender);
  send(caller, node_challenge_atom::value, p.gateway_nonce,
       node_proof(secret_, "gateway", link_nonce, p.gateway_nonce), identity);
}

void gateway::prove(const std::string& proof) {
  auto sender = current_sender();
  if (!sender)
    return;
  auto caller = caf::actor_cast<caf::actor>(sender);
  auto it = peers_.find(sender->node());
  if (it == peers_.end() || it->second.gateway_nonce.empty()) {
    send(caller, node_refused_atom::value, std::string{"a proof without a challenge"});
    return;
  }
  auto expected = node_proof(secret_, "link", it->second.gateway_nonce, it->second.link_nonce);
  it->second.gateway_nonce.clear(); // one attempt per challenge
  if (!node_proofs_equal(proof, expected)) {
    LB_LOG(warning, "node",
           "node " << node_ << " refused " << peer_name(sender->node()) << ": wrong secret");
    peers_.erase(it);
    send(caller, node_refused_atom::value,
         "node " + node_ + " refused the connection: the secret differs");
    return;
  }
  it->second.proven = true;
  it->second.heard = std::chrono::steady_clock::now();
  if (!ticking_) {
    ticking_ = true;
    ticked_ = it->second.heard;
    delayed_send(this, node_heartbeat, node_tick_atom::value);
  }
  LB_LOG(info, "node", "node " << node_ << " serves " << peer_name(sender->node()));
  send(caller, node_welcome_atom::value, welcome());
}

std::vector<char> gateway::welcome() const {
  std::vector<node_actor> actors;
  for (auto& m : core_->metrics()) {
    node_actor a;
    a.name = m.name;
    a.kind = m.kind;
    if (auto info = core_->ready_info(m.name))
      a.info = std::move(*info);
    actors.push_back(std::move(a));
  }
  std::vector<char> out;
  if (auto written = wire_encode(actors, out); !written) // a number that is not finite
    LB_LOG(warning, "node",
           "node " << node_ << ": the list of its actors: " << written.error().message());
  return out;
}

const caf::node_id* gateway::proven_sender() {
  auto sender = current_sender();
  if (!sender)
    return nullptr;
  auto it = peers_.find(sender->node());
  if (it != peers_.end() && it->second.proven) {
    it->second.heard = std::chrono::steady_clock::now();
    return &it->first;
  }
  send(caf::actor_cast<caf::actor>(sender), node_refused_atom::value,
       "node " + node_ + " serves only a process that proved it knows the secret");
  return nullptr;
}

void gateway::calls(std::vector<node_call>& batch) {
  auto* from = proven_sender();
  if (!from)
    return;
  auto caller = caf::actor_cast<caf::actor>(current_sender());
  for (auto& c : batch)
    serve(caller, *from, c);
}

void gateway::serve(const caf::actor& caller, const caf::node_id& from, node_call& c) {
  auto refuse = [&](error e) {
    node_answer a;
    a.id = c.id;
    a.set_failure(e);
    answer(caller, std::move(a));
  };
  if (keys_.count({from, c.id}))
    return refuse(error{errc::bad_request,
                        "request #" + std::to_string(c.id) + " is already on node " + node_});
  auto target = core_->find(c.actor, nullptr, "");
  if (!target)
    return refuse(error{error_code{target.error().domain(), target.error().code()},
                        "node " + node_ + ": " + target.error().message()});
  auto* entry = (*target)->kind->find_request(c.request);
  if (!entry || !entry->decode_request)
    return refuse(error{errc::bad_request, "node " + node_ + ": actor " + c.actor +
                                               " serves no request " + quote(c.request) + " (" +
                                               (*target)->kind->served_hint() + ")"});
  value::map fields;
  if (!c.context.empty())
    if (auto read = wire_decode(fields, c.context.data(), c.context.size()); !read)
      return refuse(error{errc::bad_request, "node " + node_ + ": the context of request " +
                                                 c.request + " for " + c.actor + ": " +
                                                 read.error().message()});
  auto& body = c.body.bytes();
  auto decoded = entry->decode_request(body.data(), body.size());
  if (!decoded)
    return refuse(error{errc::bad_request, "node " + node_ + ": request " + c.request + " for " +
                                               c.actor + ": " + decoded.error().message()});
  auto st = std::move(*decoded);
  st->target = target->get();
  auto key = next_key_++;
  keys_.emplace(std::make_pair(from, c.id), key);
  auto& entry_call = calls_[key];
  entry_call = call{from, c.id, st, std::move(*target), entry, caller};
  st->attach_listener(listener_, key);
  loopbridge::context ctx; // the caller's context is the request's, as for a local submit
  for (auto& [k, v] : fields)
    ctx = ctx.with(k, std::move(v));
  context_scope scope{std::move(ctx)};
  core_->submit(std::move(st), std::chrono::nanoseconds(std::max<std::int64_t>(0, c.budget_ns)));
}

void gateway::cancel(std::uint64_t id) {
  auto* from = proven_sender();
  if (!from)
    return;
  if (auto it = keys_.find({*from, id}); it != keys_.end())
    core_->cancel(calls_.at(it->second).st,
                  error{errc::cancelled, "cancelled by the main process"});
}

void gateway::done(std::uint64_t key) {
  auto it = calls_.find(key);
  if (it == calls_.end())
    return;
  auto& c = it->second;
  node_answer a;
  a.id = c.id;
  if (c.st->failed()) {
    a.set_failure(c.st->error());
  } else {
    if (auto written = a.body.refer(c.st, c.entry->save_reply); !written)
      a.set_failure(error{errc::worker_failed,
                          "node " + node_ + ": the reply of " + c.entry->name + " by " +
                              c.target->spec.name +
                              " cannot cross the network: " + written.error().message()});
  }
  auto caller = std::move(c.caller);
  keys_.erase({c.from, c.id});
  calls_.erase(it);
  answer(caller, std::move(a));
}

void gateway::answer(const caf::actor& caller, node_answer a) {
  auto& out = outbox_[caller];
  out.bytes += a.body.size();
  out.answers.push_back(std::move(a));
  if (out.answers.size() >= node_batch || out.bytes >= node_batch_bytes) {
    send_answers(caller, out); // a large reply leaves at once
    return;
  }
  if (!flush_sent_) { // after what waits in the mailbox now: answers leave together
    flush_sent_ = true;
    send(this, node_flush_atom::value);
  }
}

void gateway::send_answers(const caf::actor& caller, pending& out) {
  if (out.answers.empty())
    return;
  send(caller, node_answers_atom::value, std::move(out.answers));
  out.answers.clear();
  out.bytes = 0;
}

void gateway::flush() {
  flush_sent_ = false;
  for (auto& [caller, out] : outbox_)
    send_answers(caller, out);
  outbox_.clear();
}

void gateway::forget(const caf::node_id& from) {
  if (peers_.erase(from) == 0)
    return;
  LB_LOG(info, "node", "node " << node_ << ": " << peer_name(from) << " is gone");
  for (auto it = keys_.lower_bound({from, 0}); it != keys_.end() && it->first.first == from; ++it)
    core_->cancel(
        calls_.at(it->second).st,
        error{errc::cancelled, "the main process's connection to node " + node_ + " was lost"});
}

void gateway::tick() {
  auto now = std::chrono::steady_clock::now();
  bool lagged = now - ticked_ > 2 * node_heartbeat; // this process did not run: its own silence
  ticked_ = now;
  std::vector<caf::node_id> silent;
  bool any = false;
  for (auto& [from, p] : peers_) {
    if (!p.proven)
      continue;
    if (lagged)
      p.heard = now;
    if (now - p.heard > node_silence)
      silent.push_back(from);
    else
      any = true;
  }
  for (auto& from : silent) {
    LB_LOG(warning, "node",
           "node " << node_ << ": " << peer_name(from) << " sent nothing for "
                   << node_silence.count() << " ms; what it left running is cancelled");
    forget(from);
  }
  if (any) {
    ticking_ = true;
    delayed_send(this, node_heartbeat, node_tick_atom::value);
  }
}

} // namespace loopbridge::detail
