#pragma once

namespace loopbridge {

/// Where an actor kind's handlers run.
enum class execution {
  /// On the runtime's scheduler threads (one per core by default), in parallel with other
  /// actors, one handler of an instance at a time: handlers must never block (use
  /// `worker_context::after` for delays, another thread for blocking I/O). A handler that runs
  /// longer than `runtime.slow_handler` is reported (`slow_handler` event): such a kind should be
  /// `dedicated_thread`.
  scheduled,
  /// On a thread of the instance's own: handlers may block (CPU-bound work, blocking libraries).
  /// If a handler never returns, shutdown leaves that thread behind and reports it.
  dedicated_thread,
  /// On a thread the worker owns itself (an I/O loop): its constructor calls
  /// `worker_context::serve_on_own_thread`, and the runtime hands requests straight to that
  /// thread, without a scheduler thread in between. The constructor runs on a scheduler thread.
  own_thread,
};

} // namespace loopbridge
