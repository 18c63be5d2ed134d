#include "loopbridge/actors/blocking.hpp"

#include <algorithm>
#include <thread>

namespace loopbridge::actors {

std::uint32_t blocking::default_count() {
  return std::min(32u, std::max(1u, std::thread::hardware_concurrency()) + 4u);
}

} // namespace loopbridge::actors
