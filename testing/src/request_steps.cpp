// Steps that send requests: call, submit, await and gather.
#include "runner.hpp"

#include "loopbridge/tools/workload.hpp"

namespace loopbridge::testing::detail {

namespace {

constexpr auto resolve_failure = "fields whose placeholders resolve";

} // namespace

verdict runner::perform(const config::call_step& s, std::uint64_t i) {
  auto f = send_tracked(s.request, i, within(s));
  if (!f)
    return verdict::fail(resolve_failure, f.error().message());
  return check_outcome(s.expect, s.expect_error, s.expect_message,
                       outcome(*f, within(s) + std::chrono::milliseconds(200)));
}

verdict runner::perform(const config::submit_step& s, std::uint64_t i) {
  auto f = send_tracked(s.request, i, within(s));
  if (!f)
    return verdict::fail(resolve_failure, f.error().message());
  std::lock_guard<std::mutex> guard{mutex_};
  submitted_[tools::substitute_index(value{s.name}, i).as_string()] = std::move(*f);
  return verdict::pass();
}

verdict runner::perform(const config::await_step& s, std::uint64_t i) {
  value_future f;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    f = submitted_[tools::substitute_index(value{s.name}, i).as_string()];
  }
  return check_outcome(s.expect, s.expect_error, s.expect_message, outcome(f, within(s)));
}

verdict runner::perform(const config::gather_step& s, std::uint64_t i) {
  std::vector<value_future> fs;
  for (auto& request : s.requests) {
    auto f = send_tracked(request, i, within(s));
    if (!f)
      return verdict::fail(resolve_failure, f.error().message());
    fs.push_back(std::move(*f));
  }
  for (std::size_t k = 0; k < fs.size(); ++k) {
    bool should_fail = s.at && *s.at == k;
    auto v = check_outcome(value{}, should_fail ? s.expect_error : "",
                           should_fail ? s.expect_message : "", outcome(fs[k], within(s)));
    if (!v.ok)
      return verdict::fail("item " + std::to_string(k) + ": " + v.expected, v.actual);
  }
  return verdict::pass();
}

} // namespace loopbridge::testing::detail
