// Must NOT compile: the reply of an echo_request is an echo_reply, not an echo_stats.
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

void misuse(loopbridge::actor_handle<loopbridge::actors::echo> h) {
  loopbridge::future<loopbridge::actors::echo_stats> f =
      h.submit(loopbridge::actors::echo_request{});
  (void)f;
}
