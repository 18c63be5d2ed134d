#pragma once

// What an instance keeps of the requests its worker made to other actors: which request each was
// made for (so cancelling that one cancels them), and the join that posts a continuation back to
// the instance once they resolved. Included by the worker actor's translation unit only.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <unordered_map>
#include <vector>

#include "loop/caf_types.hpp"
#include "loop/request_inbox.hpp"
#include "runtime_core.hpp"

namespace loopbridge::detail {

class request_join;
/// The joins whose continuation is due on one instance, in the order they fired, and how to
/// wake that instance when they begin to wait (`continue_atom`, one message per batch).
///
/// Threads: as `node_inbox`; `wake` from any thread.
struct continuation_inbox final : node_inbox<request_join> {
  continuation_inbox(std::weak_ptr<runtime_core> core, caf::actor_addr instance)
      : core_(std::move(core)),
        instance_(std::move(instance)) {}

  /// Tells the instance that continuations wait (dropped if it is gone).
  void wake() const {
    if (auto core = core_.lock())
      core->send_to(instance_, continue_atom::value);
  }

private:
  std::weak_ptr<runtime_core> core_;
  caf::actor_addr instance_;
};

/// Waits for a set of requests and then posts one task to an instance: it queues itself in the
/// instance's `continuation_inbox` and, when that was idle, sends the instance `continue_atom`
/// (one message per batch of continuations, not one per answer).
///
/// Threads: `notify` runs on whichever thread resolves a member (it never blocks: a lock-free
/// push, at most one CAF enqueue); the task runs on the instance's thread. Each member holds a
/// reference to the join until it is destroyed, and the inbox one while it is queued; the join
/// holds the task (which holds the members' futures) until it ran or the inbox closed, so no
/// cycle outlives the members' resolution and the instance's stop.
class request_join final : public completion_listener, public inbox_node {
public:
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

  request_join(std::vector<const request_state*> members, bool stop_at_failure,
               std::shared_ptr<continuation_inbox> inbox)
      : members_(std::move(members)),
        remaining_(members_.size()),
        stop_at_failure_(stop_at_failure),
        inbox_(std::move(inbox)) {}

  /// The task to post; set once, before the join listens to any member.
  void arm(task_box fn) { fn_ = std::move(fn); }
  /// Never fires (a member could not be listened to): drops the task, and with it the
  /// members' futures, so nothing stays referenced in a cycle.
  void abandon() noexcept {
    fired_.store(true, std::memory_order_release);
    fn_ = task_box{};
  }

  void notify(std::uintptr_t member) noexcept override {
    // `member` is the request calling: resolved and alive while it notifies.
    if (stop_at_failure_ && members_[member]->failed()) {
      std::size_t expected = none;
      failed_.compare_exchange_strong(expected, member, std::memory_order_acq_rel);
      fire();
    }
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      fire();
  }

  /// The member whose failure fired the join, or `none`.
  std::size_t first_failed() const noexcept { return failed_.load(std::memory_order_acquire); }

  /// The task, once the join fired and the instance took it from its inbox. The instance.
  task_box take_task() noexcept { return std::move(fn_); }

private:
  void fire() noexcept {
    if (fired_.exchange(true, std::memory_order_acq_rel))
      return;
    add_ref();              // the inbox's
    if (inbox_->push(this)) // false also when the instance is gone: the task is dropped
      inbox_->wake();
  }

  std::vector<const request_state*> members_;
  std::atomic<std::size_t> remaining_;
  std::atomic<std::size_t> failed_{none};
  std::atomic<bool> fired_{false};
  bool stop_at_failure_;
  std::shared_ptr<continuation_inbox> inbox_;
  task_box fn_;
};

/// A join its instance never took from its inbox (the instance stopped): its task goes now, and
/// with it the members' futures, which would otherwise keep the join alive in a cycle.
inline void inbox_release(request_join* j) noexcept {
  j->take_task(); // dropped
  j->release();
}

/// The requests one instance made and that may still be pending, filed under the request it was
/// handling when it made them (id 0: made outside any request, e.g. in a timer).
///
/// Threads: the instance's own thread only (its handlers, continuations and cancels).
class made_requests {
public:
  void add(std::uint64_t made_for, request_state* st) {
    if (!by_request_)
      by_request_ = std::make_unique<filed_requests>();
    (*by_request_)[made_for].push_back(request_ref::share(st));
    if (++filed_ >= 2 * kept_after_prune_ + 64)
      prune();
  }

  /// Cancels what was made for `request_id` and is still pending; forgets all of it.
  template <class Cancel>
  void cancel_for(std::uint64_t request_id, Cancel&& cancel) {
    if (!by_request_)
      return;
    auto it = by_request_->find(request_id);
    if (it == by_request_->end())
      return;
    auto made = std::move(it->second);
    by_request_->erase(it);
    filed_ -= made.size();
    for (auto& st : made)
      if (!st->resolved())
        cancel(std::move(st));
  }

  /// Cancels every request still pending (the instance stops).
  template <class Cancel>
  void cancel_all(Cancel&& cancel) {
    auto all = std::move(by_request_);
    filed_ = kept_after_prune_ = 0;
    if (!all)
      return;
    for (auto& [id, made] : *all)
      for (auto& st : made)
        if (!st->resolved())
          cancel(std::move(st));
  }

  /// Requests still pending (tests, metrics).
  std::size_t pending() const {
    std::size_t n = 0;
    if (!by_request_)
      return n;
    for (auto& [id, made] : *by_request_)
      for (auto& st : made)
        n += st->resolved() ? 0 : 1;
    return n;
  }

private:
  /// Drops resolved requests: amortised O(1) per request filed.
  void prune() {
    filed_ = 0;
    for (auto it = by_request_->begin(); it != by_request_->end();) {
      auto& made = it->second;
      made.erase(std::remove_if(made.begin(), made.end(),
                                [](const request_ref& st) { return st->resolved(); }),
                 made.end());
      filed_ += made.size();
      it = made.empty() ? by_request_->erase(it) : std::next(it);
    }
    kept_after_prune_ = filed_;
  }

  using filed_requests = std::unordered_map<std::uint64_t, std::vector<request_ref>>;
  /// Made only when the worker makes its first request: most instances never do.
  std::unique_ptr<filed_requests> by_request_;
  std::size_t filed_ = 0;
  std::size_t kept_after_prune_ = 0;
};

} // namespace loopbridge::detail
