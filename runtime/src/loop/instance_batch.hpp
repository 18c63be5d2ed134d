#pragma once

// Scheduled instances made on the scheduler's threads, a batch at a time, for the event loop
// to launch.

#include <cstdint>
#include <memory>
#include <vector>

#include "loop/caf_types.hpp"
#include "loop/request_lane.hpp"

namespace loopbridge::detail {

class runtime_core;

/// A batch of scheduled instances for a scheduler thread to make: their CAF actors (the
/// instance's memory, most of its cost: a million instances fault in a gigabyte) are allocated
/// and constructed there and handed back to the event loop in one `(made_atom, batch)`
/// message; the loop launches them. So a burst of spawns spreads over the scheduler's threads
/// instead of holding the loop's, and nothing runs before the loop holds its handle: an
/// instance's readiness, requests and cancels always find it.
///
/// The loop fills `segments` and `tokens` (its slots already count the instances alive),
/// hands the batch to the scheduler (one reference), and reads `made` once the message
/// arrives. An actor the loop does not launch (its actor stopped meanwhile, or it was killed)
/// is dropped with the batch and reports its exit like any other (`worker_actor::on_cleanup`).
/// A batch the scheduler never runs (the actor system shut down first) makes nothing.
///
/// Threads: built by the loop; `resume` on one scheduler thread; then read by the loop. The
/// message orders the hand-overs.
class instance_batch final : public caf::ref_counted, public caf::resumable {
public:
  /// Instances `first` to `first + count - 1` of `record`.
  struct segment {
    record_ptr record;
    std::shared_ptr<request_lane> lane;
    std::uint32_t first = 0;
    std::uint32_t count = 0;
  };

  instance_batch(caf::actor loop, std::shared_ptr<runtime_core> core)
      : loop_(std::move(loop)),
        core_(std::move(core)) {}

  std::vector<segment> segments;
  /// The incarnation of each instance, the segments' instances in order.
  std::vector<std::uint32_t> tokens;
  /// The instances' actors, not launched, in the same order: filled by `resume`.
  std::vector<caf::actor> made;

  subtype_t subtype() const override { return function_object; }
  resume_result resume(caf::execution_unit* unit, std::size_t) override;
  void intrusive_ptr_add_ref_impl() override { ref(); }
  void intrusive_ptr_release_impl() override { deref(); }

private:
  caf::actor loop_;
  std::shared_ptr<runtime_core> core_;
};

using batch_ptr = caf::intrusive_ptr<instance_batch>;

} // namespace loopbridge::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(loopbridge::detail::batch_ptr)
