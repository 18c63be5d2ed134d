// The names of an actor spec's policies.
#include "loopbridge/actor_spec.hpp"

namespace loopbridge {

const char* to_string(overflow_policy p) noexcept {
  switch (p) {
    case overflow_policy::block:
      return "block";
    case overflow_policy::reject:
      return "reject";
    case overflow_policy::drop_oldest:
      return "drop_oldest";
  }
  return "?";
}

const char* to_string(restart_policy p) noexcept {
  switch (p) {
    case restart_policy::never:
      return "never";
    case restart_policy::on_failure:
      return "on_failure";
  }
  return "?";
}

} // namespace loopbridge
