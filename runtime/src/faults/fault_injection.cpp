// Fault injection for tests and scenarios: killing an instance as if it crashed, and making an
// actor's instances slow.
#include "runtime_core.hpp"

#include "loopbridge/detail/fault_access.hpp"
#include "loopbridge/runtime.hpp"

#include <algorithm>

#include "loopbridge/text.hpp"

namespace loopbridge::detail {

result<void> runtime_core::kill_instance(std::string_view name, std::uint32_t instance) {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  if (instance >= (*rec)->spec.count)
    return error{errc::not_found, "actor " + quote(name) + " has no instance " +
                                      std::to_string(instance) + " (count " +
                                      std::to_string((*rec)->spec.count) + ")"};
  if (!send_to_loop(kill_atom::value, *rec, instance))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

result<void> runtime_core::slow_down(std::string_view name, std::chrono::nanoseconds delay) {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  (*rec)->injected_delay_ns = std::max<std::int64_t>(0, delay.count());
  return {};
}

result<void> fault_access::kill_instance(runtime& rt, std::string_view name,
                                         std::uint32_t instance) {
  return rt.core_->kill_instance(name, instance);
}

result<void> fault_access::slow_down(runtime& rt, std::string_view name,
                                     std::chrono::nanoseconds delay) {
  return rt.core_->slow_down(name, delay);
}

} // namespace loopbridge::detail
