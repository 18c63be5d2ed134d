#pragma once

#include "loopbridge/detail/request_state.hpp"

namespace loopbridge::detail {

/// Where a worker reports that it is done with a request it was handed (replied, failed or
/// skipped), so the event loop can return the credit, dispatch the next queued request and
/// update metrics. `done` is called exactly once per dispatched request, from any thread,
/// and never blocks.
class completion_sink : public ref_counted {
public:
  virtual void done(request_ref st) noexcept = 0;
};

/// Calls `sink.done(st)` unless that was already done for `st` (exactly-once guard shared by
/// responders and the worker that dispatched them).
void report_done(completion_sink& sink, request_ref st) noexcept;

} // namespace loopbridge::detail
