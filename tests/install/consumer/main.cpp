// Uses the installed loopbridge: spawn an echo actor and make one call.
#include <cstdio>

#include <loopbridge/actors/builtin_kinds.hpp>
#include <loopbridge/actors/echo.hpp>
#include <loopbridge/runtime.hpp>

int main() {
  using namespace std::chrono_literals;
  loopbridge::runtime rt{loopbridge::actors::builtin_kinds()};
  if (!rt.spawn("echo", "echo"))
    return 1;
  auto h = rt.actor<loopbridge::actors::echo>("echo").value();
  auto r = h.call(loopbridge::actors::echo_request{"installed"}, 5s);
  if (!r || r->payload != loopbridge::value{"installed"}) {
    std::fprintf(stderr, "consumer: call failed\n");
    return 1;
  }
  std::printf("consumer: loopbridge works from its installed package\n");
  return 0;
}
