// The thread registry: starting threads outside the scheduler and joining them at stop.
#include "threads/thread_registry.hpp"

#include <algorithm>
#include <iterator>

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void thread_registry::start(std::string name, std::function<void()> body, describe_fn describe) {
  reap_finished();
  auto e = std::make_shared<entry>();
  e->name = name;
  e->describe = std::move(describe);
  std::lock_guard<std::mutex> guard{state_->mutex};
  e->thread =
      std::thread([st = state_, e, name = std::move(name), body = std::move(body)]() mutable {
        log::name_thread(name);
        body();
        // What the body holds goes here, on its own thread and before the thread counts as
        // finished: whoever joins a finished thread (the next `start`, or the shutdown) then waits
        // for nothing but its return, and a destructor that hangs shows up as a thread that did not
        // finish instead of a join that never returns.
        body = nullptr;
        std::lock_guard<std::mutex> g{st->mutex};
        e->finished = true;
        st->finished_cv.notify_all();
      });
  state_->entries.push_back(std::move(e));
}

std::vector<std::string> thread_registry::join_all(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> guard{state_->mutex};
  state_->finished_cv.wait_until(guard, deadline, [&] {
    for (auto& e : state_->entries)
      if (!e->finished)
        return false;
    return true;
  });
  auto entries = std::move(state_->entries);
  state_->entries.clear();
  guard.unlock();
  std::vector<std::string> stuck;
  for (auto& e : entries) {
    if (e->finished) {
      e->thread.join();
      continue;
    }
    std::string line = "thread " + e->name + " did not finish";
    if (e->describe)
      line += " (" + e->describe() + ")";
    line += "; left behind";
    LB_LOG(warning, "runtime", line);
    stuck.push_back(std::move(line));
    e->thread.detach();
  }
  return stuck;
}

void thread_registry::reap_finished() {
  std::vector<std::shared_ptr<entry>> finished;
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    auto& all = state_->entries;
    auto keep = std::stable_partition(all.begin(), all.end(),
                                      [](const std::shared_ptr<entry>& e) { return !e->finished; });
    finished.assign(std::make_move_iterator(keep), std::make_move_iterator(all.end()));
    all.erase(keep, all.end());
  }
  // Outside the lock: a finished thread has only its return left, so each join is brief.
  for (auto& e : finished)
    e->thread.join();
}

std::size_t thread_registry::live() const {
  std::lock_guard<std::mutex> guard{state_->mutex};
  return state_->entries.size();
}

} // namespace loopbridge::detail
