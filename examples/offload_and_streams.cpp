// Blocking work and bounded streams for a synchronous host program: offload a blocking
// function to a named pool (with the caller's context and a cancel token), give a long task a
// thread of its own, call the loop from a pool thread, and consume a generator through a
// bounded stream that stops its producer when closed.
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using loopbridge::actors::echo;
using loopbridge::actors::echo_request;

int main() {
  loopbridge::runtime rt{loopbridge::actors::builtin_kinds()};
  loopbridge::actor_spec disk; // a named pool of 2 threads
  disk.name = "disk";
  disk.kind = "blocking";
  disk.count = 2;
  rt.spawn(disk).value();
  rt.spawn("pages", "echo").value();

  // offload: a blocking function on the pool; the caller's context travels with it.
  loopbridge::context::set("request_id", "abc-123");
  auto pool = rt.pool("disk").value();
  auto size = pool.offload(
      [](const std::string& path) {
        std::this_thread::sleep_for(5ms); // stands in for a blocking read
        auto* id = loopbridge::context::current().find("request_id");
        std::printf("reading %s for %s\n", path.c_str(), id ? id->to_string().c_str() : "?");
        return path.size() * 100;
      },
      std::string{"/var/data/report.csv"});
  std::printf("size: %zu\n", size.get().value());

  // An exception becomes loop.worker_failed with its message; a deadline cancels the token.
  auto broken = rt.offload([] {
                    throw std::runtime_error("disk full");
                    return 0;
                  }).get();
  std::printf("broken: %s\n", broken.error().to_string().c_str());
  auto slow = pool.with_timeout(20ms).offload([](const loopbridge::cancel_token& token) {
    while (!token.cancelled())
      std::this_thread::sleep_for(1ms); // a polite blocking loop
    return 0;
  });
  std::printf("slow: %s\n", slow.get().error().to_string().c_str());

  // A pool thread may call the loop and wait for the answer (no deadlock, even with 1 thread).
  auto nested = pool.offload([&rt] {
    return rt.actor<echo>("pages")->call(echo_request{"from the pool"}, 1s).value().payload;
  });
  std::printf("nested: %s\n", nested.get().value().to_string().c_str());

  // offload_separate: a long-lived task on a thread of its own, cancelled at shutdown.
  auto ticker = rt.offload_separate([](const loopbridge::cancel_token& token) {
    int ticks = 0;
    while (!token.cancelled() && ticks < 3) {
      std::this_thread::sleep_for(2ms);
      ++ticks;
    }
    return ticks;
  });
  std::printf("ticks: %d\n", ticker.get().value());

  // A bounded stream: the generator runs at most 4 items ahead of this consumer; closing the
  // stream destroys the generator at once (its cleanup runs).
  auto numbers = rt.stream(
      [n = 0]() mutable -> std::optional<int> {
        if (n == 1'000'000)
          return std::nullopt;
        return n++;
      },
      4);
  int sum = 0;
  for (int i = 0; i < 10; ++i)
    sum += numbers.next(1s).value().value();
  numbers.close();
  std::printf("sum of the first 10: %d, the producer never ran more than %zu ahead\n", sum,
              numbers.max_lead());
  return sum == 45 && numbers.max_lead() <= 4 ? 0 : 1;
}
