// Reporting a handler that runs too long: naming its actor and request, logging it and
// publishing a `slow_handler` event.
#include "runtime_core.hpp"

#include "loopbridge/log.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

record_ptr runtime_core::stalled_actor(const stall& s) const {
  if (s.actor_sequence == 0)
    return nullptr;
  std::lock_guard<std::mutex> guard{records_mutex_};
  if (s.actor_index < by_index_.size() && by_index_[s.actor_index] &&
      by_index_[s.actor_index]->sequence + 1 == s.actor_sequence)
    return by_index_[s.actor_index];
  return nullptr;
}

slow_handler_event runtime_core::name_stall(const stall& s, const actor_record* rec) const {
  slow_handler_event e;
  e.instance = s.instance;
  e.elapsed = s.elapsed;
  e.thread = s.thread;
  if (s.actor_sequence == 0) {
    e.actor = "loop";
    return e;
  }
  if (rec) {
    e.actor = rec->spec.name;
    if (auto* entry = s.request ? rec->kind->find_request(s.request) : nullptr)
      e.request_type = entry->type_name;
  }
  return e;
}

std::string runtime_core::describe(const stall& s) const {
  auto rec = stalled_actor(s);
  auto e = name_stall(s, rec.get());
  std::string what = s.actor_sequence == 0 ? std::string{"a message on the event loop's thread"}
                     : !rec                ? std::string{"a handler of a retired actor"}
                            : "a handler of " + e.actor + "/" + std::to_string(e.instance) +
                                  (e.request_type.empty() ? "" : " (" + e.request_type + ")");
  return e.thread + ": " + what + " running for " + readable_duration(e.elapsed);
}

void runtime_core::report_stall(const stall& s) {
  auto rec = stalled_actor(s);
  auto e = name_stall(s, rec.get());
  if (s.actor_sequence != 0 && !rec)
    return; // it ended and its actor was retired meanwhile
  if (rec)
    actor_counters::add(rec->counters.slow_handlers);
  // Long handlers are what dedicated threads are for: only the loop and scheduled kinds, whose
  // long handlers hold threads other actors need, get a warning.
  if (!rec || rec->mode == execution::scheduled)
    LB_LOG(warning, "stall",
           describe(s) << "; runtime.slow_handler is " << readable_duration(options_.slow_handler));
  else
    LB_LOG(info, "stall", describe(s));
  if (wants(event_type::slow_handler))
    publish(e);
}

} // namespace loopbridge::detail
