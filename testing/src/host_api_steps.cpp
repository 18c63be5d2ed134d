// Steps that exercise the host API beyond requests: stream (a bounded stream over a counting
// generator) and offload (functions on blocking pools).
#include <atomic>
#include <memory>
#include <thread>

#include "runner.hpp"

#include "loopbridge/tools/value_requests.hpp"

namespace loopbridge::testing::detail {

namespace {

/// A counting generator for `stream` steps: yields 0, 1, ... up to `items`; records how far
/// it got and when it was destroyed (its cleanup, like closing a Python generator).
struct counting_generator {
  std::int64_t items;
  std::shared_ptr<std::atomic<std::int64_t>> produced;
  std::shared_ptr<std::atomic<bool>> destroyed;
  std::optional<std::int64_t> operator()() {
    auto n = produced->load();
    if (n >= items)
      return std::nullopt;
    ++*produced;
    return n;
  }
  counting_generator(std::int64_t n, std::shared_ptr<std::atomic<std::int64_t>> p,
                     std::shared_ptr<std::atomic<bool>> d)
      : items(n),
        produced(std::move(p)),
        destroyed(std::move(d)) {}
  counting_generator(counting_generator&& o) noexcept = default;
  ~counting_generator() {
    if (destroyed)
      *destroyed = true;
  }
};

/// The function an `offload` step runs on a pool thread.
auto offload_work(const config::offload_step& s, runtime& rt) {
  using work_type = config::offload_step::work_type;
  return [work = s.work, duration = s.duration, call = s.call,
          rt = &rt](const cancel_token& token) -> value {
    if (work == work_type::fail)
      throw std::runtime_error("the offloaded function failed on purpose");
    if (work == work_type::call) { // sync_wait: a pool thread waits on the loop
      auto f = tools::submit_value(*rt, call.to, call.request,
                                   call.fields.is_null() ? value{value::map{}} : call.fields);
      auto r = f.get();
      if (!r)
        throw std::runtime_error("the call from the pool failed: " + r.error().message());
      return *r;
    }
    auto until = clock::now() + duration;
    while (clock::now() < until && !token.cancelled())
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    return value{{"slept", duration}};
  };
}

} // namespace

verdict runner::perform(const config::stream_step& s, std::uint64_t) {
  auto take = s.take.value_or(s.items);
  auto produced = std::make_shared<std::atomic<std::int64_t>>(0);
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  auto st = rt_.stream(counting_generator{s.items, produced, destroyed}, s.max_buffer);
  std::int64_t taken = 0;
  bool in_order = true;
  bool ended = false;
  while (taken < take) {
    auto item = st.next(within(s));
    if (!item)
      return verdict::fail("item " + std::to_string(taken), item.error().message());
    if (!item->has_value()) {
      ended = true;
      break;
    }
    in_order = in_order && **item == taken;
    ++taken;
  }
  if (s.close)
    st.close();
  // Closing destroys the generator promptly (its cleanup runs) and stops production.
  auto deadline = clock::now() + within(s);
  while (s.close && !destroyed->load() && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  value got{{"taken", taken},
            {"produced", produced->load()},
            {"max_lead", static_cast<std::int64_t>(st.max_lead())},
            {"in_order", in_order},
            {"ended", ended},
            {"producer_stopped", destroyed->load()},
            {"produced_within_bound",
             produced->load() <= taken + static_cast<std::int64_t>(s.max_buffer)}};
  if (static_cast<std::size_t>(st.max_lead()) > s.max_buffer)
    return verdict::fail("the producer at most max_buffer (" + std::to_string(s.max_buffer) +
                             ") ahead",
                         got.to_string());
  return check_value(s.expect, got);
}

verdict runner::perform(const config::offload_step& s, std::uint64_t) {
  std::optional<blocking_pool> pool; // none: the runtime's default pool
  if (!s.pool.empty()) {
    auto p = rt_.pool(s.pool);
    if (!p)
      return verdict::fail("a blocking pool", p.error().message());
    pool = *p;
  }
  auto fn = offload_work(s, rt_);
  std::vector<future<value>> fs;
  for (std::int64_t k = 0; k < s.times; ++k)
    fs.push_back(s.separate ? rt_.offload_separate(fn)
                 : pool     ? pool->with_timeout(within(s)).offload(fn)
                            : rt_.offload(fn));
  for (auto& f : fs) {
    if (!f.wait_for(within(s) + std::chrono::milliseconds(500)))
      return verdict::fail("an outcome within " + ms_text(within(s)), "none");
    auto v = check_outcome(s.expect, s.expect_error, s.expect_message, f.get());
    if (!v.ok)
      return v;
  }
  return verdict::pass();
}

} // namespace loopbridge::testing::detail
