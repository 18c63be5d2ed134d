// The main runtime's connection to one node: connect off the loop, prove the secret both ways,
// tell the node's instances, retry when it goes.
#include "nodes/node_link.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "nodes/node_tls.hpp"
#include "runtime_core.hpp"
#include "tuning.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

namespace {

/// Whether `host:port` accepts a TCP connection within `timeout`: "" if it does, else why not.
/// Blocks the calling thread (never the loop's) for at most `timeout` plus name resolution.
std::string probe(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return std::string{"cannot resolve "} + host + ": " + ::gai_strerror(rc);
  std::string why = "no address";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (rc == 0) {
        why = "no answer within " + std::to_string(timeout.count()) + " ms";
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        if (err != 0)
          why = std::strerror(err);
      } else {
        why = std::strerror(errno);
      }
    } else if (rc != 0) {
      why = std::strerror(errno);
    }
    ::close(fd);
    if (rc == 0) {
      ::freeaddrinfo(found);
      return {};
    }
  }
  ::freeaddrinfo(found);
  return why;
}

} // namespace

node_link::node_link(caf::actor_config& cfg, std::shared_ptr<runtime_core> core, node_spec node,
                     std::string secret, std::string app_id)
    : caf::event_based_actor(cfg),
      core_(std::move(core)),
      node_(std::move(node)),
      secret_(std::move(secret)),
      app_id_(std::move(app_id)),
      pause_(node_retry_first) {}

node_link::~node_link() = default;

caf::behavior node_link::make_behavior() {
  set_down_handler([this](caf::down_msg& m) {
    if (gateway_ && m.source == gateway_.address()) {
      lost(error{errc::node_lost, "node " + node_.name + " (" + node_.address() +
                                      ") was lost: " + describe_exit_reason(m.reason)});
      return;
    }
    hosts_.erase(m.source); // an instance exited: a million of them stop in linear time
  });
  connect();
  return {
      [this](node_attach_atom, caf::actor& host) {
        monitor(host);
        hosts_.emplace(host.address(), host);
        if (phase_ == phase::up)
          tell_up(host);
        else if (phase_ == phase::down && !last_failure_.code().empty())
          send(host, node_down_atom::value, last_failure_);
      },
      [this](node_connected_atom, std::uint64_t attempt) { // the address accepts TCP
        if (attempt == attempt_ && phase_ == phase::connecting)
          handshake(attempt);
      },
      [this](node_connected_atom, std::uint64_t attempt, error& why) {
        if (attempt == attempt_ && phase_ == phase::connecting)
          lost(std::move(why));
      },
      [this](node_challenge_atom, const std::string& nonce, const std::string& proof,
             const std::string& identity) {
        if (phase_ == phase::proving && current_sender() == gateway_)
          challenged(nonce, proof, identity);
      },
      [this](node_welcome_atom, std::vector<char>& actors) {
        if (phase_ == phase::proving && current_sender() == gateway_)
          welcomed(std::move(actors));
      },
      [this](node_refused_atom, const std::string& why) {
        if (current_sender() == gateway_ && phase_ != phase::down)
          lost(error{errc::node_refused, why});
      },
      [this](node_pong_atom, std::uint64_t) {
        if (phase_ == phase::up && current_sender() == gateway_)
          heard_ = std::chrono::steady_clock::now();
      },
      [this](node_tick_atom, std::uint64_t attempt) {
        if (attempt == attempt_ && phase_ == phase::up)
          tick();
      },
      [this](node_retry_atom, std::uint64_t attempt) {
        if (attempt != attempt_)
          return;
        if (phase_ == phase::down)
          connect();
        else if (phase_ == phase::proving) // the handshake's deadline
          lost(error{errc::node_unreachable,
                     "node " + node_.name + " (" + node_.address() + ") did not answer within " +
                         std::to_string(node_connect_timeout.count()) + " s"});
      },
  };
}

void node_link::on_exit() {
  hosts_.clear();
  gateway_ = nullptr;
  core_.reset();
}

void node_link::connect() {
  phase_ = phase::connecting;
  auto attempt = ++attempt_;
  caf::actor_addr self = address();
  std::weak_ptr<runtime_core> weak = core_;
  auto node = node_;
  core_->threads().start("lb.node." + node_.name, [self, weak, node, attempt] {
    auto why = probe(node.host, node.port, node_connect_timeout);
    auto core = weak.lock();
    if (!core)
      return;
    if (why.empty())
      core->send_to(self, node_connected_atom::value, attempt);
    else
      core->send_to(self, node_connected_atom::value, attempt,
                    error{errc::node_unreachable, "node " + node.name + " (" + node.address() +
                                                      ") is unreachable: " + why});
  });
}

void node_link::handshake(std::uint64_t attempt) {
  // CAF's own connect and handshake, asked of its middleman actor with a deadline: a peer that
  // accepts TCP but never answers (a frozen process: the kernel still accepts) must not hold
  // a thread, or this link, for ever.
  auto where = "node " + node_.name + " (" + node_.address() + ")";
  // A TLS node is connected through CAF's TLS layer (its own middleman actor, the same
  // connections and proxies afterwards).
  auto& connector = node_.tls.enabled() ? system().openssl_manager().actor_handle()
                                        : system().middleman().actor_handle();
  request(connector, node_connect_timeout, caf::connect_atom::value, node_.host, node_.port)
      .then(
          [this, attempt, where](caf::node_id&, caf::strong_actor_ptr& gateway,
                                 std::set<std::string>&) {
            if (attempt != attempt_ || phase_ != phase::connecting)
              return;
            if (!gateway)
              return lost(error{errc::node_unreachable, where + " publishes nothing at its port"});
            connected(caf::actor_cast<caf::actor>(gateway));
          },
          [this, attempt, where](caf::error& e) {
            if (attempt != attempt_ || phase_ != phase::connecting)
              return;
            if (e == caf::sec::incompatible_application_ids)
              return lost(error{errc::node_refused,
                                where + " runs another build of loopbridge or other kinds"});
            auto text = system().render(e);
            std::string ca_rule = "each side's certificate must be signed by the CA the other "
                                  "trusts";
            if (e == caf::sec::request_timeout)
              text = "no CAF handshake within " + std::to_string(node_connect_timeout.count()) +
                     " s (a frozen or overloaded process" +
                     (node_.tls.enabled() ? ", or a TLS handshake that failed: " + ca_rule + ")"
                                          : "?)");
            else if (e == caf::sec::disconnect_during_handshake)
              text += node_.tls.enabled() ? " (the TLS handshake failed: " + ca_rule + ")"
                                          : " (does it serve TLS? then the topology must say so)";
            lost(error{errc::node_unreachable, where + ": " + text});
          });
}

void node_link::connected(caf::actor gateway) {
  gateway_ = std::move(gateway);
  monitor(gateway_);
  phase_ = phase::proving;
  link_nonce_ = node_nonce();
  send(gateway_, node_hello_atom::value, app_id_, link_nonce_);
  delayed_send(this, node_connect_timeout, node_retry_atom::value, attempt_);
}

void node_link::challenged(const std::string& gateway_nonce, const std::string& proof,
                           const std::string& identity) {
  if (!node_proofs_equal(proof, node_proof(secret_, "gateway", link_nonce_, gateway_nonce))) {
    lost(error{errc::node_refused, "node " + node_.name + " (" + node_.address() +
                                       ") did not prove it knows the secret: another secret, or "
                                       "not a loopbridge node"});
    return;
  }
  if (node_.tls.enabled()) {
    auto problem = tls_signature_problem(
        node_.tls.certificate, node_identity_message(node_.name, link_nonce_, gateway_nonce),
        identity);
    if (!problem.empty()) {
      lost(error{errc::node_refused,
                 "node " + node_.name + " (" + node_.address() +
                     ") is not the node the topology names: its proof of identity failed (" +
                     problem + "; another process of the same CA answers at its address?)"});
      return;
    }
  }
  send(gateway_, node_prove_atom::value, node_proof(secret_, "link", gateway_nonce, link_nonce_));
}

void node_link::welcomed(std::vector<char> actors) {
  phase_ = phase::up;
  actors_ = std::move(actors);
  pause_ = node_retry_first;
  last_failure_ = error{};
  core_->set_node_failure(node_.name, std::nullopt);
  LB_LOG(info, "node",
         "node " << node_.name << " (" << node_.address() << ") "
                 << (ever_up_ ? "is back" : "is up"));
  ever_up_ = true;
  heard_ = ticked_ = std::chrono::steady_clock::now();
  delayed_send(this, node_heartbeat, node_tick_atom::value, attempt_);
  // The event first, as `lost` does: the node's instances become ready once told, and a host
  // that saw them ready (its start returned) must not see this event after subscribing.
  if (core_->wants(event_type::node_up))
    core_->publish(node_up_event{node_.name, node_.address()});
  for (auto& [addr, h] : hosts_)
    tell_up(h);
}

void node_link::tick() {
  auto now = std::chrono::steady_clock::now();
  if (now - ticked_ > 2 * node_heartbeat) {
    // This process did not run for a while (it was frozen, or its threads were all busy): the
    // silence is its own, not the node's. Listen afresh.
    heard_ = now;
  } else if (now - heard_ > node_silence) {
    lost(error{errc::node_lost, "node " + node_.name + " (" + node_.address() +
                                    ") was lost: it answered nothing for " +
                                    std::to_string(node_silence.count()) +
                                    " ms (a frozen or overloaded process, or a network cut)"});
    return;
  }
  ticked_ = now;
  send(gateway_, node_ping_atom::value, ++pings_);
  delayed_send(this, node_heartbeat, node_tick_atom::value, attempt_);
}

void node_link::tell_up(const caf::actor& host) {
  send(host, node_up_atom::value, gateway_, actors_);
}

void node_link::lost(error why) {
  bool was_up = phase_ == phase::up;
  bool news = was_up || last_failure_.code().empty(); // a change, not another failed attempt
  if (news || phase_ == phase::proving || last_failure_.message() != why.message())
    LB_LOG(warning, "node", why);
  if (news && core_->wants(event_type::node_down))
    core_->publish(node_down_event{node_.name, node_.address(), why});
  phase_ = phase::down;
  last_failure_ = why;
  core_->set_node_failure(node_.name, why);
  if (gateway_) {
    demonitor(gateway_);
    gateway_ = nullptr;
  }
  for (auto& [addr, h] : hosts_)
    send(h, node_down_atom::value, why);
  auto attempt = ++attempt_;
  delayed_send(this, pause_, node_retry_atom::value, attempt);
  pause_ = std::min(pause_ * 2, node_retry_most);
}

} // namespace loopbridge::detail
