// Must compile: the control for the compile-fail tests (same includes, correct use).
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

void use(loopbridge::actor_handle<loopbridge::actors::echo> h) {
  loopbridge::future<loopbridge::actors::echo_reply> f =
      h.submit(loopbridge::actors::echo_request{});
  (void)f;
}
