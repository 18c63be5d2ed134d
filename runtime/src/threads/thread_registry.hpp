#pragma once

// The threads the runtime starts outside the scheduler.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace loopbridge::detail {

/// The threads the runtime starts outside the scheduler (dedicated worker threads, I/O
/// threads, blocking pools). Each announces when it has finished; shutdown joins the finished
/// ones and leaves behind, deliberately and reported, any that do not finish in time, so a
/// stuck thread can never make shutdown hang. Thread-safe.
class thread_registry {
public:
  /// What a stuck thread was doing, for the shutdown report.
  using describe_fn = std::function<std::string()>;

  /// Starts `body` on a new thread named `name`. `body` runs, then the thread reports that
  /// it finished. `describe` is called (from the shutdown thread) if it does not finish in time.
  /// Threads that finished since are joined first (see `reap_finished`).
  void start(std::string name, std::function<void()> body, describe_fn describe = {});

  /// Joins the threads whose body returned, releasing their stacks: a runtime that starts and
  /// stops actors on dedicated threads for as long as it lives (one-shot `offload_separate`
  /// tasks, stream pumps) keeps only the threads still running. Blocks only for the few
  /// instructions a finished thread has left.
  void reap_finished();

  /// Waits until every started thread finished or `deadline` passed; joins the finished ones,
  /// detaches the others and returns one line per thread left behind.
  std::vector<std::string> join_all(std::chrono::steady_clock::time_point deadline);

  /// Threads started and not yet joined (finished ones included until they are reaped).
  std::size_t live() const;

private:
  struct entry {
    std::string name;
    std::thread thread;
    describe_fn describe;
    bool finished = false;
  };
  // Shared with the threads, so a thread left behind can still report its end safely after
  // the registry is gone.
  struct shared_state {
    std::mutex mutex;
    std::condition_variable finished_cv;
    std::vector<std::shared_ptr<entry>> entries;
  };
  std::shared_ptr<shared_state> state_ = std::make_shared<shared_state>();
};

} // namespace loopbridge::detail
