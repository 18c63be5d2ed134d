// How many instances with threads of their own one actor may have on this machine.
#include "loopbridge/actor_spec.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>

#include <sys/resource.h>

namespace loopbridge {

std::uint32_t instance_thread_limit() noexcept {
  std::uint64_t allowed = UINT32_MAX;
  {
    std::ifstream in{"/proc/sys/kernel/threads-max"};
    std::uint64_t n = 0;
    if (in >> n && n > 0)
      allowed = std::min(allowed, n);
  }
  rlimit r{};
  if (::getrlimit(RLIMIT_NPROC, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
    allowed = std::min<std::uint64_t>(allowed, r.rlim_cur);
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(allowed / 2, 1, max_instances));
}

} // namespace loopbridge
