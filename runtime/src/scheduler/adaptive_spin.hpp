#pragma once

// How long an idle thread spins before it parks, adapted to its traffic.

#include <algorithm>
#include <chrono>

#include "loopbridge/detail/spin_policy.hpp"

namespace loopbridge::detail {

/// How long a thread that runs out of work spins before it parks, adapted to the traffic it
/// sees: after a burst of work it spins about as long as its recent idle gaps were (at most
/// `max`), so request/response traffic never pays a futex wake-up; when it is really idle the
/// spin decays to none, so an idle runtime takes no CPU. Each spin step yields the core after
/// the first microseconds (`spin_policy::relax`), so spinning never starves the thread that
/// would produce the work on a small machine.
///
/// Threads: one object per waiting thread; not shared.
class adaptive_spin {
public:
  using clock = std::chrono::steady_clock;

  /// Spins until `ready()` returns true (then true) or the current budget ends (then false, and
  /// the caller parks, then reports with `parked` how long it was idle in all).
  template <class Ready>
  bool spin(std::chrono::nanoseconds max, clock::time_point start, Ready&& ready) {
    if (max.count() <= 0 || spin_.count() <= 0)
      return false;
    if (!spin_policy::spin_until(start + std::min(spin_, max), ready))
      return false;
    spin_ = std::min<std::chrono::nanoseconds>(
        max, std::max<std::chrono::nanoseconds>(spin_, 2 * (clock::now() - start)));
    return true;
  }

  /// After a park that began spinning at `start`: a thread woken soon after parking would
  /// have caught the work by spinning that long; a long idle spell halves the budget.
  void parked(std::chrono::nanoseconds max, clock::time_point start) {
    if (max.count() <= 0)
      return;
    auto idle = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start);
    spin_ = idle < max ? std::min<std::chrono::nanoseconds>(max, 2 * idle) : spin_ / 2;
  }

private:
  std::chrono::nanoseconds spin_{0};
};

} // namespace loopbridge::detail
