// Must NOT compile: echo does not serve this request type.
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/runtime.hpp"

struct not_for_echo {
  using reply_type = int;
};

void misuse(loopbridge::actor_handle<loopbridge::actors::echo> h) {
  h.submit(not_for_echo{});
}
