// Admission for actors with the `block` policy: taking and giving back places.
#include "registry/admission.hpp"

#include "threads/futex.hpp"

#include "loopbridge/detail/bridge.hpp"

namespace loopbridge::detail {

bool try_admit(const actor_record& rec) noexcept {
  auto& a = rec.admission;
  auto capacity = static_cast<std::int64_t>(rec.capacity);
  auto held = a.occupancy.load(std::memory_order_relaxed);
  while (held < capacity)
    if (a.occupancy.compare_exchange_weak(held, held + 1, std::memory_order_acq_rel))
      return true;
  return false;
}

result<void> admit(const actor_record& rec, time_point deadline) {
  auto& a = rec.admission;
  auto capacity = static_cast<std::int64_t>(rec.capacity);
  for (;;) {
    if (try_admit(rec))
      return {};
    if (blocking_forbidden())
      return error{errc::overloaded, rec.spec.name + " is full (capacity " +
                                         std::to_string(capacity) +
                                         ") and this thread must not block to wait for room"};
    if (clock::now() >= deadline)
      return error{errc::timeout, "deadline passed while waiting for room in " + rec.spec.name +
                                      " (capacity " + std::to_string(capacity) + ")"};
    auto gen = a.generation.load(std::memory_order_acquire);
    a.waiters.fetch_add(1, std::memory_order_seq_cst);
    if (a.occupancy.load(std::memory_order_seq_cst) >= capacity)
      futex_wait_until(a.generation, gen, deadline);
    a.waiters.fetch_sub(1, std::memory_order_seq_cst);
  }
}

void admit_unchecked(const actor_record& rec) noexcept {
  rec.admission.occupancy.fetch_add(1, std::memory_order_acq_rel);
}

void release_places(const actor_record& rec, std::int64_t n) noexcept {
  auto& a = rec.admission;
  a.occupancy.fetch_sub(n, std::memory_order_seq_cst);
  if (a.waiters.load(std::memory_order_seq_cst) > 0) {
    a.generation.fetch_add(1, std::memory_order_release);
    futex_wake_all(a.generation);
  }
}

} // namespace loopbridge::detail
