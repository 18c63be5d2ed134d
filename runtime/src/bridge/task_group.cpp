// Task groups and `gather`: what a group of futures ended with.
#include "loopbridge/groups.hpp"

#include <exception>

namespace loopbridge {

error group_outcome::summary() const {
  if (failures.empty() && cancelled.empty())
    return {};
  std::string msg;
  for (auto& f : failures) {
    if (!msg.empty())
      msg += "; ";
    msg += "member " + std::to_string(f.index) + ": " + f.error.to_string();
  }
  if (!cancelled.empty())
    msg += (msg.empty() ? "" : "; ") + std::to_string(cancelled.size()) + " cancelled";
  if (!unacknowledged.empty())
    msg += ", " + std::to_string(unacknowledged.size()) + " not released by their workers in time";
  if (failures.empty())
    return error{errc::cancelled, msg};
  auto& first = failures.front().error;
  return error{error_code{first.domain(), first.code()}, msg};
}

task_group::task_group(std::chrono::nanoseconds ack_deadline)
    : ack_deadline_(ack_deadline),
      uncaught_at_start_(std::uncaught_exceptions()) {}

task_group::~task_group() {
  if (waited_)
    return;
  if (std::uncaught_exceptions() > uncaught_at_start_)
    cancel();
  else
    wait();
}

void task_group::add(detail::request_state* st, std::shared_ptr<detail::bridge> bridge) {
  members_.push_back(member{detail::request_ref::share(st), std::move(bridge)});
  reported_.push_back(false);
  // The group watches its members; a member cannot also sit in another queue.
  (void)queue_.watch_state_of(st);
}

void task_group::cancel_pending() {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    auto& m = members_[i];
    if (m.state->resolved())
      continue;
    // Ours only if the cancel decided the outcome (a worker may have answered first).
    if (m.bridge->cancel(m.state))
      outcome_.cancelled.push_back(i);
  }
}

void task_group::await_acknowledgements() {
  auto deadline = std::chrono::steady_clock::now() + ack_deadline_;
  for (auto i : outcome_.cancelled)
    if (!members_[i].state->wait_settled_until(deadline))
      outcome_.unacknowledged.push_back(i);
}

void task_group::cancel() {
  if (waited_)
    return;
  cancel_pending();
  wait();
}

const group_outcome& task_group::wait() {
  if (waited_)
    return outcome_;
  waited_ = true;
  auto is_cancelled_by_group = [&](std::size_t i) {
    for (auto c : outcome_.cancelled)
      if (c == i)
        return true;
    return false;
  };
  for (std::size_t done = 0; done < members_.size();) {
    auto token = queue_.pop(std::chrono::hours(24 * 365));
    if (!token) {
      // Blocking is not allowed here (a scheduler thread): give up on every pending member.
      for (std::size_t i = 0; i < members_.size(); ++i)
        if (!reported_[i] && !members_[i].state->resolved()) {
          outcome_.failures.push_back({i, token.error()});
          break;
        }
      cancel_pending();
      return outcome_;
    }
    ++done;
    auto i = *token;
    reported_[i] = true;
    auto& st = *members_[i].state;
    if (!st.failed() || is_cancelled_by_group(i))
      continue;
    outcome_.failures.push_back({i, st.error()});
    if (outcome_.failures.size() == 1)
      cancel_pending(); // the first failure cancels the rest
  }
  if (!outcome_.cancelled.empty())
    await_acknowledgements();
  return outcome_;
}

} // namespace loopbridge
