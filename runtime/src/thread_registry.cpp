#include "thread_registry.hpp"

#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void thread_registry::start(std::string name, std::function<void()> body, describe_fn describe) {
  auto e = std::make_shared<entry>();
  e->name = name;
  e->describe = std::move(describe);
  std::lock_guard<std::mutex> guard{state_->mutex};
  e->thread = std::thread([st = state_, e, name = std::move(name), body = std::move(body)] {
    log::name_thread(name);
    body();
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

std::size_t thread_registry::live() const {
  std::lock_guard<std::mutex> guard{state_->mutex};
  return state_->entries.size();
}

} // namespace loopbridge::detail
