// Steps that run other steps: parallel (each on its own thread) and repeat.
#include <atomic>
#include <optional>
#include <thread>

#include "runner.hpp"

namespace loopbridge::testing::detail {

namespace {

/// `steps[2] (call)`: a nested step named in its block's failure.
std::string nested_name(const config::scenario_step& step) {
  return step.path + " (" + std::string{config::keyword_of(step.action)} + ")";
}

} // namespace

verdict runner::perform(const config::parallel_step& s, std::uint64_t i) {
  std::vector<verdict> results(s.steps.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < s.steps.size(); ++k)
    threads.emplace_back([&, k] { results[k] = run(s.steps[k], i); });
  for (auto& t : threads)
    t.join();
  for (std::size_t k = 0; k < results.size(); ++k)
    if (!results[k].ok)
      return verdict::fail(nested_name(s.steps[k]) + ": " + results[k].expected, results[k].actual);
  return verdict::pass();
}

verdict runner::perform(const config::repeat_step& s, std::uint64_t) {
  std::atomic<std::uint64_t> next{0};
  std::mutex failure_mutex;
  std::optional<verdict> failure;
  auto worker = [&] {
    for (auto i = next++; i < s.times; i = next++) {
      for (auto& step : s.steps) {
        auto v = run(step, i);
        if (v.ok)
          continue;
        std::lock_guard<std::mutex> guard{failure_mutex};
        if (!failure) {
          failure = v;
          failure->expected =
              "iteration " + std::to_string(i) + ", " + nested_name(step) + ": " + v.expected;
        }
        next = s.times; // stop the others
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t t = 1; t < s.concurrency; ++t)
    threads.emplace_back(worker);
  worker();
  for (auto& t : threads)
    t.join();
  return failure ? *failure : verdict::pass();
}

} // namespace loopbridge::testing::detail
