#include "open_file_limit.hpp"

#include <sys/resource.h>

namespace loopbridge::actors {

std::size_t ensure_open_file_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  auto soft = static_cast<std::size_t>(lim.rlim_cur);
  if (lim.rlim_cur == RLIM_INFINITY || soft >= wanted || lim.rlim_cur >= lim.rlim_max)
    return soft;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    return soft;
  return static_cast<std::size_t>(lim.rlim_cur);
}

} // namespace loopbridge::actors
