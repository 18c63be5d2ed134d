// Unit tests of the loop's internal structures: the deadline index, the request inbox and the
// completion channel behind completion queues.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "bridge/completion_channel.hpp"
#include "loop/deadline_index.hpp"
#include "loop/request_inbox.hpp"

using namespace loopbridge;
using namespace loopbridge::detail;
using namespace std::chrono_literals;

namespace {
struct plain_request {
  using reply_type = int;
  int n = 0;
};
request_state* make_state(int n, time_point deadline = time_point::max()) {
  auto* st = new typed_request_state<plain_request>(plain_request{n});
  st->deadline = deadline;
  st->id = static_cast<std::uint64_t>(n);
  return st;
}
} // namespace

TEST_CASE("deadline_index expires in deadline order, never early", "[internals]") {
  deadline_index idx;
  auto t0 = time_point{std::chrono::seconds(1000)};
  std::vector<request_state*> states;
  // Out-of-order deadlines, several per millisecond bucket.
  for (int ms : {30, 10, 20, 10, 40, 20, 11})
    states.push_back(
        make_state(static_cast<int>(states.size()), t0 + std::chrono::milliseconds(ms)));
  for (auto* st : states)
    idx.insert(st);
  CHECK(idx.size() == 7);
  CHECK(idx.next_expiry() == t0 + 11ms);
  idx.remove(states[5]); // one of the 20 ms ones
  CHECK(idx.size() == 6);
  std::vector<std::uint64_t> fired;
  idx.expire(t0 + 10ms, [&](request_state* st) { fired.push_back(st->id); });
  CHECK(fired.empty()); // the 10 ms bucket ends at 11 ms
  idx.expire(t0 + 21ms, [&](request_state* st) { fired.push_back(st->id); });
  CHECK(fired == std::vector<std::uint64_t>{1, 3, 6, 2});
  CHECK(idx.next_expiry() == t0 + 31ms);
  idx.remove(states[0]);
  idx.remove(states[0]); // removing twice is harmless
  idx.expire(t0 + 1s, [&](request_state* st) { fired.push_back(st->id); });
  CHECK(fired.back() == 4);
  CHECK(idx.empty());
  CHECK(idx.next_expiry() == time_point::max());
  for (auto* st : states)
    st->release();
}

TEST_CASE(
    "request_inbox: many producers, one consumer, nothing lost or duplicated, FIFO per producer",
    "[internals]") {
  request_inbox inbox;
  constexpr int producers = 4;
  constexpr int per_producer = 50000;
  std::atomic<int> wakes{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i)
        if (inbox.push(make_state(p * per_producer + i)))
          ++wakes;
    });
  std::set<std::uint64_t> seen;
  std::vector<std::int64_t> last(producers, -1);
  bool fifo = true;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < producers * per_producer && std::chrono::steady_clock::now() < deadline) {
    inbox.begin_drain();
    while (auto* st = inbox.pop()) {
      auto id = static_cast<std::int64_t>(st->id);
      auto p = id / per_producer;
      if (id <= last[p])
        fifo = false;
      last[p] = id;
      seen.insert(id);
      st->release();
    }
  }
  for (auto& t : ts)
    t.join();
  CHECK(seen.size() == producers * per_producer);
  CHECK(fifo);
  CHECK(wakes >= 1);
  CHECK(wakes <= producers * per_producer);
}

TEST_CASE("request_inbox releases undrained requests when destroyed", "[internals]") {
  auto* st = make_state(1);
  st->add_ref(); // keep one for the test
  {
    request_inbox inbox;
    CHECK(inbox.push(st));
    CHECK_FALSE(inbox.push(make_state(2))); // already awake: no second wake
  }
  // The inbox dropped its reference; ours is the last.
  CHECK(st->id == 1);
  st->release();
}

TEST_CASE("a completion channel reuses popped nodes: its size follows what is outstanding, "
          "not what it ever watched",
          "[internals]") {
  // Two threads complete the watched requests (notify) while this one keeps `window` watched
  // and pops: every token comes back once, and no more than `window` nodes ever exist.
  constexpr std::size_t window = 8, total = 50000;
  auto channel = make_ref<completion_channel>();
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::uintptr_t> to_complete;
  bool done = false;
  auto completer = [&] {
    for (;;) {
      std::unique_lock<std::mutex> lock{m};
      cv.wait(lock, [&] { return done || !to_complete.empty(); });
      if (to_complete.empty())
        return;
      auto cookie = to_complete.front();
      to_complete.pop_front();
      lock.unlock();
      channel->notify(cookie);
    }
  };
  std::thread a{completer}, b{completer};
  std::vector<int> seen(total, 0);
  std::size_t watched = 0, popped = 0;
  auto watch_next = [&] {
    auto cookie = channel->add(watched++);
    {
      std::lock_guard<std::mutex> guard{m};
      to_complete.push_back(cookie);
    }
    cv.notify_one();
  };
  while (watched < window)
    watch_next();
  while (popped < total) {
    auto token = channel->pop(10s);
    REQUIRE(token >= 0); // a completion within the deadline
    ++seen[static_cast<std::size_t>(token)];
    ++popped;
    if (watched < total)
      watch_next();
  }
  {
    std::lock_guard<std::mutex> guard{m};
    done = true;
  }
  cv.notify_all();
  a.join();
  b.join();
  CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<std::ptrdiff_t>(total));
  CHECK(channel->nodes_allocated() <= window);
  CHECK(channel->try_pop() == -1);

  // A node taken back unused (its future was watched elsewhere) serves the next watch.
  auto before = channel->nodes_allocated();
  auto spare = channel->add(total);
  channel->forget(spare);
  CHECK(channel->add(total + 1) == spare);
  CHECK(channel->nodes_allocated() == before);
}
