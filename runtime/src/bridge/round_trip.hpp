#pragma once

// Whether the calling thread's next submission is a round trip's.

namespace loopbridge::detail {

/// True while the calling thread has waited for a request's result (blocked on a future that
/// was not resolved yet, or on a `completion_queue` with nothing to pop) since its last
/// submission, and on a thread that never submitted: its next submission is then one of a
/// round trip, which goes straight to an idle actor's lane (`runtime_core::submit_direct`).
/// A burst of submissions (the second one on without a wait) goes through the event loop,
/// which hands them to the lane in batches. Set by `request_state::wait_until` and
/// `completion_queue::pop`, cleared by each submission. The calling thread's own flag.
bool& round_trip_next() noexcept;

} // namespace loopbridge::detail
