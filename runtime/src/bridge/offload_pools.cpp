// The blocking pools that `offload` and `offload_separate` run on: finding a pool by name,
// spawning the default pool on first use, and a one-instance pool per separate function.
#include "runtime_core.hpp"

#include "loopbridge/text.hpp"

namespace loopbridge::detail {

result<blocking_pool> runtime_core::pool(std::string_view name) {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  if (!(*rec)->kind->find_request(detail::tag_of<detail::offload_marker>()))
    return error{errc::wrong_kind, "actor " + quote(name) + " is of kind " +
                                       quote((*rec)->kind->name) +
                                       ", which runs no offloaded functions"};
  return blocking_pool{std::move(*rec), shared_from_this()};
}

result<blocking_pool> runtime_core::default_pool() {
  auto& name = options().offload_pool;
  std::lock_guard<std::mutex> guard{pools_mutex_};
  auto p = pool(name);
  if (p || !p.is(errc::not_found))
    return p;
  if (!kinds().find("blocking"))
    return error{errc::not_found, "no blocking pool " + quote(name) +
                                      ", and the kind 'blocking' is not registered to make one"};
  actor_spec spec;
  spec.name = name;
  spec.kind = "blocking";
  if (auto ok = spawn(std::move(spec)); !ok)
    return std::move(ok).error();
  return pool(name);
}

result<blocking_pool> runtime_core::separate_pool() {
  std::lock_guard<std::mutex> guard{pools_mutex_};
  if (!kinds().find("blocking"))
    return error{errc::not_found, "offload_separate needs the kind 'blocking'"};
  actor_spec spec;
  spec.name = "separate." + std::to_string(++separate_count_);
  spec.kind = "blocking";
  spec.count = 1;
  spec.stop_after = 1; // the thread ends with its function
  auto name = spec.name;
  if (auto ok = spawn(std::move(spec)); !ok)
    return std::move(ok).error();
  auto p = pool(name);
  if (!p)
    return p;
  return p->with_timeout(std::chrono::nanoseconds::max()); // long-lived: no deadline
}

} // namespace loopbridge::detail
