// The streams the runtime keeps open, so that stopping the runtime closes them.
#include "runtime_core.hpp"

#include <algorithm>

namespace loopbridge::detail {

void runtime_core::track_stream(std::weak_ptr<stream_control> s) {
  std::lock_guard<std::mutex> guard{streams_mutex_};
  streams_.erase(
      std::remove_if(streams_.begin(), streams_.end(), [](auto& w) { return w.expired(); }),
      streams_.end());
  streams_.push_back(std::move(s));
}

void runtime_core::close_streams() {
  std::vector<std::weak_ptr<stream_control>> open;
  {
    std::lock_guard<std::mutex> guard{streams_mutex_};
    open.swap(streams_);
  }
  for (auto& w : open)
    if (auto s = w.lock())
      s->close(error{errc::stopped, "the runtime stopped"});
}

} // namespace loopbridge::detail
