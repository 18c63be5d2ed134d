#pragma once

// The host of an instance whose actor runs on another node. Included by the worker actor's
// translation unit only.

#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "nodes/node_protocol.hpp"
#include "workers/instance_host.hpp"

#include "loopbridge/detail/wire_form.hpp"

namespace loopbridge::detail {

/// Stands in the main runtime for one instance of an actor placed on a node: it takes requests
/// from the actor's lane like any instance, sends them to the node's gateway (several to a
/// message) and completes each with the answer that comes back. No worker object exists here.
///
/// Credit: the loop hands an instance of a node's actor no more requests at once than a local
/// instance of that kind would take (`event_loop::on_spawn`), so the main runtime never has
/// more in flight to a node than the actor there can hold.
///
/// Failure: when the node's link reports it down, every request in flight here fails at once
/// with `node.lost` (it may or may not have run there; nothing is re-run unless the actor
/// sets `resend_lost`: then they wait here, in order, and go again first when the node is
/// back, each until its deadline), and the instance
/// takes nothing more until the node is up again: what waits in the actor's queue meanwhile
/// waits for the node, until its deadline (the loop then fails it with `node.unreachable`).
/// Before its first `up`, a `down` fails the instance's start with the link's error. A node that
/// comes back without the actor (or with another kind under its name) fails its requests at
/// once with `node.refused`, naming what it runs, until it comes back with it.
///
/// Threads: the worker actor's, a guest of the loop thread (`loop_thread::host`) after its
/// start on a scheduler thread; every member runs there, one at a time.
class node_host final : public instance_host {
public:
  node_host(worker_actor* self, record_ptr rec, std::uint32_t instance, std::uint32_t token,
            std::shared_ptr<runtime_core> core, std::shared_ptr<request_lane> lane)
      : instance_host(std::move(rec), instance, token, std::move(core), self->address(),
                      std::move(lane)),
        self_ptr_(self) {}

  void start() override {
    lane_->begin_start(instance_);
    traffic_ = core_->traffic(rec_->spec.node);
    auto link = core_->node_link(rec_->spec.node);
    if (!link)
      return start_failed(std::move(link).error());
    self_ptr_->send(*link, node_attach_atom::value, caf::actor_cast<caf::actor>(self_ptr_));
  }
  void announce_ready(value info) override {
    self_ptr_->send(self_ptr_->loop_, ready_atom::value, rec_->index, instance_, token_,
                    std::move(info));
    self_ptr_->send(self_ptr_, drain_atom::value);
  }
  void announce_start_failed(error reason) override {
    self_ptr_->send(self_ptr_->loop_, start_failed_atom::value, rec_->index, instance_, token_,
                    reason);
    self_ptr_->quit(to_exit_reason(reason));
  }

  /// The node is up: `gateway` serves the actors listed in `actors` (its welcome).
  void up(caf::actor gateway, const std::vector<char>& actors) {
    std::vector<node_actor> listed;
    if (auto read = wire_decode(listed, actors.data(), actors.size()); !read)
      return start_failed(error{errc::node_refused,
                                where() + " sent a malformed welcome: " + read.error().message()});
    const node_actor* mine = nullptr;
    std::string names;
    for (auto& a : listed) {
      if (a.name == rec_->spec.name)
        mine = &a;
      names += (names.empty() ? "" : ", ") + a.name;
    }
    std::optional<std::string> missing;
    if (!mine)
      missing = where() + " runs no actor " + rec_->spec.name + " (it runs " +
                (names.empty() ? "none" : names) + ")";
    else if (mine->kind != rec_->kind->name)
      missing = where() + " runs " + rec_->spec.name + " as kind " + mine->kind + ", not " +
                rec_->kind->name;
    if (missing && !announced_)
      return start_failed(error{errc::start_failed, *missing});
    if (missing) {
      // The node came back without the actor (restarted with another topology): its requests
      // fail at once, saying so, until it comes back with it.
      if (!refusing_)
        LB_LOG(warning, "node", instance_label(*rec_, instance_) << ": " << *missing);
      refusing_ = error{errc::node_refused, *missing};
      fail_flying(errc::node_lost, *missing);
      drain();
      return;
    }
    refusing_.reset();
    gateway_ = std::move(gateway);
    ready(mine->info); // once: after a reconnection it only resumes
    resend_held();
    drain();
  }

  /// The node is down (or could not be reached): fails what is in flight there, or, for an
  /// actor that resends, holds it until the node is back.
  void down(const error& why) {
    gateway_ = nullptr;
    if (rec_->spec.resend_lost)
      hold_flying();
    else
      fail_flying(errc::node_lost, why.message());
    start_failed(why); // only before the first `up`
  }

  /// Answers from the gateway. The node's counters are updated once for the message, before
  /// any outcome is published: a host that sees its future resolved sees it counted too.
  void answers(std::vector<node_answer>& batch) {
    std::vector<std::pair<request_ref, node_answer*>> found;
    found.reserve(batch.size());
    std::uint64_t bytes = 0;
    for (auto& a : batch) {
      auto it = flying_.find(a.id);
      if (it == flying_.end())
        continue; // it ended here first (cancelled, timed out, the node was lost)
      found.emplace_back(std::move(it->second), &a);
      flying_.erase(it);
      bytes += a.body.size();
    }
    node_traffic::add(traffic_->answered, found.size());
    node_traffic::take(traffic_->in_flight, found.size());
    node_traffic::add(traffic_->bytes_received, bytes);
    for (auto& [st, a] : found) {
      if (a->failed) {
        st->fail(a->failure());
      } else if (st->try_claim(request_state::outcome::completed)) {
        auto* entry = rec_->kind->find_request(st->request_type());
        auto& body = a->body.bytes();
        auto read = entry ? entry->decode_reply(*st, body.data(), body.size())
                          : result<void>{error{errc::bad_request, "its kind has no such request"}};
        if (!read)
          st->set_error(error{errc::worker_failed,
                              where() + " sent a malformed reply: " + read.error().message()});
        st->publish();
      }
      sink_->done(std::move(st));
    }
  }

  void drain() override {
    if (refusing_)
      return refuse_queued();
    if (!gateway_)
      return; // taken again once the node is up
    std::vector<node_call> batch;
    std::size_t bytes = 0;
    request_state* taken[node_batch];
    for (;;) {
      auto n = lane_->take(instance_, token_, taken, node_batch);
      for (std::size_t k = 0; k < n; ++k) {
        send_later(request_ref::adopt(taken[k]), batch, bytes);
        if (batch.size() >= node_batch || bytes >= node_batch_bytes)
          flush(batch, bytes);
      }
      if (n == 0) {
        if (!batch.empty())
          flush(batch, bytes);
        return; // idle: the loop wakes it when a request arrives
      }
    }
  }

  void cancel(request_ref st) override {
    if (auto held = held_.find(st->id); held != held_.end()) {
      auto ended = std::move(held->second);
      held_.erase(held);
      sink_->done(std::move(ended)); // never sent again
      return;
    }
    auto it = flying_.find(st->id);
    if (it == flying_.end())
      return;
    if (gateway_)
      self_ptr_->send(gateway_, node_cancel_atom::value, st->id);
    auto held = std::move(it->second);
    flying_.erase(it);
    node_traffic::take(traffic_->in_flight, 1);
    sink_->done(std::move(held)); // its outcome is decided; whatever the node says is dropped
  }
  void run_task(task_box&) override {}
  void stop() override {
    for (auto& [id, st] : flying_)
      if (gateway_)
        self_ptr_->send(gateway_, node_cancel_atom::value, id);
    fail_flying(errc::stopped, "stopped before " + where() + " answered");
  }

private:
  std::string where() const { return "node " + rec_->spec.node; }

  /// Adds `st`, new from the lane, to `batch`, or ends it here when it cannot go.
  void send_later(request_ref st, std::vector<node_call>& batch, std::size_t& bytes) {
    if (!begin(st))
      return;
    add_call(std::move(st), batch, bytes);
  }

  /// Adds started request `st` to `batch` (flying from now on), or ends it when it cannot go.
  void add_call(request_ref st, std::vector<node_call>& batch, std::size_t& bytes) {
    auto* entry = rec_->kind->find_request(st->request_type());
    node_call c;
    c.id = st->id;
    c.actor = rec_->spec.name;
    auto written = entry && entry->save_request
                       ? c.body.refer(st, entry->save_request)
                       : result<void>{error{errc::bad_request, "the kind does not serve it"}};
    if (!written) {
      st->fail(error{errc::bad_request,
                     "the request cannot go to " + where() + ": " + written.error().message()});
      sink_->done(std::move(st));
      return;
    }
    c.request = entry->name;
    if (!st->context.empty()) {
      value::map fields;
      for (auto& [key, v] : st->context.all())
        fields.emplace(key, v);
      if (auto context = wire_encode(fields, c.context); !context) {
        st->fail(error{errc::bad_request, "the request's context cannot go to " + where() + ": " +
                                              context.error().message()});
        sink_->done(std::move(st));
        return;
      }
    }
    if (st->deadline != time_point::max())
      c.budget_ns = std::max<std::int64_t>(
          1, std::chrono::duration_cast<std::chrono::nanoseconds>(st->deadline - clock::now())
                 .count());
    flying_.emplace(st->id, std::move(st));
    bytes += c.body.size();
    batch.push_back(std::move(c));
  }

  void flush(std::vector<node_call>& batch, std::size_t& bytes) {
    node_traffic::add(traffic_->sent, batch.size()); // once per message, not per call
    node_traffic::add(traffic_->in_flight, batch.size());
    node_traffic::add(traffic_->bytes_sent, bytes);
    self_ptr_->send(gateway_, node_calls_atom::value, std::move(batch));
    batch.clear();
    bytes = 0;
  }

  /// The node runs no such actor now: ends what the lane holds with `refusing_`.
  void refuse_queued() {
    request_state* taken[node_batch];
    while (auto n = lane_->take(instance_, token_, taken, node_batch))
      for (std::size_t k = 0; k < n; ++k) {
        auto st = request_ref::adopt(taken[k]);
        if (!begin(st))
          continue;
        st->fail(*refusing_);
        sink_->done(std::move(st));
      }
  }

  /// The node was lost: what was in flight there waits to be sent again (`resend_lost`).
  void hold_flying() {
    if (traffic_) {
      node_traffic::take(traffic_->in_flight, flying_.size());
      node_traffic::add(traffic_->lost, flying_.size());
    }
    for (auto& [id, st] : flying_)
      held_.emplace(id, std::move(st));
    flying_.clear();
  }

  /// The node is back: sends what waited, oldest first, before anything new.
  void resend_held() {
    auto held = std::move(held_);
    held_.clear();
    std::vector<node_call> batch;
    std::size_t bytes = 0;
    for (auto& [id, st] : held) {
      if (st->resolved()) { // its deadline or a cancel ended it meanwhile
        sink_->done(std::move(st));
        continue;
      }
      node_traffic::add(traffic_->resent, 1);
      add_call(std::move(st), batch, bytes);
      if (batch.size() >= node_batch || bytes >= node_batch_bytes)
        flush(batch, bytes);
    }
    if (!batch.empty())
      flush(batch, bytes);
  }

  /// Ends what is in flight there, and what waits to be sent again, with `code`.
  void fail_flying(error_code code, const std::string& why) {
    auto flying = std::move(flying_);
    flying_.clear();
    if (traffic_) {
      node_traffic::take(traffic_->in_flight, flying.size());
      if (code.domain == errc::node_lost.domain && code.code == errc::node_lost.code)
        node_traffic::add(traffic_->lost, flying.size());
    }
    for (auto& [id, st] : held_) // counted when they were lost
      flying.emplace(id, std::move(st));
    held_.clear();
    for (auto& [id, st] : flying) {
      st->fail(error{code, rec_->spec.name + ": request #" + std::to_string(id) + ": " + why});
      sink_->done(std::move(st));
    }
  }

  worker_actor* self_ptr_;
  caf::actor gateway_;
  /// Set while the node, back after a loss, runs no such actor (`node.refused`).
  std::optional<error> refusing_;
  std::unordered_map<std::uint64_t, request_ref> flying_; ///< sent to the node, by request id
  /// Lost with the node, to be sent again when it is back (`resend_lost`), by request id
  /// (ids grow with submission: the map's order is theirs).
  std::map<std::uint64_t, request_ref> held_;
  std::shared_ptr<node_traffic> traffic_; ///< the node's, shared with its other instances
};

} // namespace loopbridge::detail
