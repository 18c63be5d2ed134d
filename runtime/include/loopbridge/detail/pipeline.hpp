#pragma once

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// The request a host waits on for a whole pipeline: never handed to a worker itself; its stages
/// are ordinary requests that point back at it, and the last stage's reply becomes its reply.
template <class R>
class pipeline_parent final : public reply_state<R> {
public:
  pipeline_parent() : reply_state<R>(tag_of<pipeline_parent<R>>()) {}
  void* request_data() noexcept override { return nullptr; }
  bool adopt_reply(request_state& last_stage) noexcept override {
    // The runtime checked at submission that the last stage replies with an R.
    auto& typed = static_cast<reply_state<R>&>(last_stage);
    if (!typed.reply)
      return false;
    this->reply = std::move(typed.reply);
    return true;
  }
};

} // namespace loopbridge::detail
