#pragma once

// Holding the events a thread publishes and offering them to subscribers together.

namespace loopbridge::detail {

/// While one lives on the calling thread, the events the runtime publishes on that thread are
/// held, in order, and offered to their inboxes together when the outermost one ends: one
/// lock, one eventfd write and one wake-up per inbox for a burst of events instead of one per
/// event. The event loop holds one around a bounded stretch of messages (`loop_stretch`).
///
/// Held events never arrive after what followed them: `flush` offers them before the thread
/// resolves a request (`request_state::publish`, `mark_settled`) and before the loop reports
/// its end, so whoever is woken by those finds the events before them in the inboxes.
///
/// Nests. Not copyable; the calling thread only.
class publish_batch {
public:
  publish_batch() noexcept;
  ~publish_batch();
  publish_batch(const publish_batch&) = delete;
  publish_batch& operator=(const publish_batch&) = delete;

  /// Offers the events the calling thread holds now, if any (its scopes stay open).
  static void flush() noexcept;
};

} // namespace loopbridge::detail
