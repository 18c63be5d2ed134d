// Structured concurrency and lifecycle events for a synchronous host program:
// gather, as_completed (completion order, with each result's index), a task group that
// cancels the rest when one member fails, per-request context, and an event inbox read
// through poll() as a host with its own event loop would.
#include <cstdio>
#include <poll.h>
#include <string>
#include <vector>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/groups.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using loopbridge::actors::echo;
using loopbridge::actors::echo_reply;
using loopbridge::actors::echo_request;

int main() {
  loopbridge::runtime rt{loopbridge::actors::builtin_kinds()};
  // Subscribe before spawning: the inbox receives the actor's `ready` event.
  loopbridge::subscription wanted;
  wanted.types = {loopbridge::event_type::ready, loopbridge::event_type::stopped};
  auto events = rt.subscribe(wanted);
  rt.spawn("pages", "echo").value();
  auto pages = rt.actor<echo>("pages").value();

  // A host with its own event loop polls the inbox's descriptor instead of blocking a thread.
  pollfd pfd{events.fd(), POLLIN, 0};
  if (poll(&pfd, 1, 5000) != 1)
    return 1;
  if (auto e = events.try_next())
    std::printf("event: %s\n", loopbridge::to_string(*e).c_str());

  // gather: every value in submission order, or the first failure with its index.
  std::vector<loopbridge::future<echo_reply>> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(pages.submit(echo_request{i, std::chrono::milliseconds(10 * (5 - i))}));
  auto all = loopbridge::gather(std::move(batch));
  if (!all)
    return 1;
  std::printf("gathered %zu replies, first is %s\n", all.values().size(),
              all.values()[0].payload.to_string().c_str());

  // as_completed: outcomes in completion order, each with the index of its request (the
  // seeds keep a future -> url map for exactly this).
  std::vector<std::string> urls{"/slow", "/fast", "/medium"};
  std::vector<loopbridge::future<echo_reply>> fetches;
  for (auto delay : {60ms, 0ms, 30ms})
    fetches.push_back(pages.submit(echo_request{urls[fetches.size()], delay}));
  loopbridge::as_completed<echo_reply> done{std::move(fetches)};
  while (auto c = done.next(5s))
    std::printf("completed %s (request %zu)\n", urls[c->index].c_str(), c->index);

  // Context: captured at submit time; each request sees the value it was submitted with.
  loopbridge::context::set("user_id", 7);
  auto seen = pages.call(echo_request{"whoami"}, 1s);
  std::printf("the worker saw user_id %s\n", seen->context["user_id"].to_string().c_str());

  // A task group: the first failure cancels the other members; nothing outlives the group.
  {
    loopbridge::task_group group{2s};
    group.submit(pages, echo_request{"long", 10s});
    group.submit(pages, echo_request{"broken", 5ms, 0ms, /*fail=*/true});
    auto& outcome = group.wait();
    std::printf("group: %zu failed, %zu cancelled: %s\n", outcome.failures.size(),
                outcome.cancelled.size(), outcome.summary().to_string().c_str());
    if (outcome.failures.size() != 1 || outcome.cancelled.size() != 1)
      return 1;
  }

  rt.stop();
  while (auto e = events.next(1s))
    std::printf("event: %s\n", loopbridge::to_string(*e).c_str());
  return 0;
}
