// `error`: its text form.
#include "loopbridge/error.hpp"

namespace loopbridge {

std::string error::to_string() const {
  std::string s = name();
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

std::ostream& operator<<(std::ostream& out, const error& e) {
  return out << e.to_string();
}

} // namespace loopbridge
