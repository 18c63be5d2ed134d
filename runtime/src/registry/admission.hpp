#pragma once

// Admission: places in an actor's capacity for actors with the `block` policy.

#include "loopbridge/detail/actor_record.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge::detail {

/// Takes a place in `rec`'s capacity for one request (actors with the `block` policy). When the
/// actor is full the calling thread waits for room until `deadline` (`loop.timeout` then); a
/// thread that must not block (a scheduler thread) gets `loop.overloaded` at once instead —
/// submissions from such threads use `try_admit` and, without a place, wait in the event loop.
/// Thread-safe; lock-free unless it has to wait.
result<void> admit(const actor_record& rec, time_point deadline);

/// Takes a place if there is one now; never waits.
bool try_admit(const actor_record& rec) noexcept;

/// Takes a place without waiting (the loop, for pipeline stages that credit already allowed).
void admit_unchecked(const actor_record& rec) noexcept;

/// Gives `n` places back and wakes waiting submitters. Called by the event loop.
void release_places(const actor_record& rec, std::int64_t n) noexcept;

} // namespace loopbridge::detail
