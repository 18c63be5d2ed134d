// Scheduled instances made on the scheduler's threads, a batch at a time.
#include "loop/instance_batch.hpp"

#include "workers/worker_actor.hpp"

namespace loopbridge::detail {

caf::resumable::resume_result instance_batch::resume(caf::execution_unit* unit, std::size_t) {
  auto& sys = unit->system();
  made.reserve(tokens.size());
  std::size_t k = 0;
  for (auto& seg : segments) {
    for (std::uint32_t n = 0; n < seg.count; ++n, ++k) {
      caf::actor_config cfg{unit};
      auto handle =
          make_worker(sys, cfg, seg.record, seg.first + n, tokens[k], loop_, core_, seg.lane);
      made.push_back(std::move(handle));
    }
  }
  caf::anon_send(loop_, made_atom::value, batch_ptr{this});
  return done;
}

} // namespace loopbridge::detail
