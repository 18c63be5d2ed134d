// A synchronous host program using loopbridge: start a runtime, spawn an echo actor, submit
// requests from several host threads, wait on futures, and let the destructor stop everything.
#include <cstdio>
#include <thread>
#include <vector>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using loopbridge::actors::echo;
using loopbridge::actors::echo_request;

int main() {
  // The runtime starts the scheduler and the event loop; its destructor stops them.
  loopbridge::runtime rt{loopbridge::actors::builtin_kinds()};
  if (auto ok = rt.spawn("greeter", "echo", {{"delay", 1ms}}); !ok) {
    std::fprintf(stderr, "spawn failed: %s\n", ok.error().to_string().c_str());
    return 2;
  }
  // A typed handle: submitting a request echo does not serve would not compile.
  auto greeter = rt.actor<echo>("greeter").value();

  // One blocking call with a deadline.
  auto reply = greeter.call(echo_request{"hello"}, 1s);
  if (!reply) {
    std::fprintf(stderr, "call failed: %s\n", reply.error().to_string().c_str());
    return 1;
  }
  std::printf("greeter said %s\n", reply->payload.to_string().c_str());

  // Many requests from several host threads at once; each gets its own future.
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<loopbridge::future<loopbridge::actors::echo_reply>> futures;
      for (int i = 0; i < 100; ++i)
        futures.push_back(greeter.submit(echo_request{t * 1000 + i}));
      for (auto& f : futures)
        if (auto r = f.get(); r && r->payload.is_integer())
          ++answered;
    });
  for (auto& th : threads)
    th.join();
  std::printf("%d of 400 requests answered\n", answered.load());

  // A deadline shorter than the work: the future resolves with loop.timeout.
  auto late = greeter.call(echo_request{"slow", 200ms}, 20ms);
  std::printf("slow request: %s\n", late ? "answered" : late.error().to_string().c_str());
  return answered == 400 && late.is(loopbridge::errc::timeout) ? 0 : 1;
}
