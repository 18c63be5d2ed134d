// Unit tests of the loop's internal structures: the deadline index, the request inbox, the
// completion channel behind completion queues, the object pool behind per-actor records, and the
// latency histogram behind each actor's p50 and p99.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bridge/completion_channel.hpp"
#include "loop/deadline_index.hpp"
#include "loop/loop_thread.hpp"
#include "loop/request_inbox.hpp"
#include "loopbridge/detail/latency_histogram.hpp"
#include "memory/object_pool.hpp"
#include "scheduler/scheduler.hpp"

#include <caf/all.hpp>

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

TEST_CASE("request_inbox: a quiet node waits for the next drain unless the consumer needs it",
          "[internals]") {
  request_inbox inbox;
  // Quiet: no wake-up, yet the next drain takes it.
  CHECK_FALSE(inbox.push_quiet(make_state(1), inbox.epoch()));
  CHECK(inbox.quiet() == 1);
  inbox.begin_drain();
  CHECK(inbox.quiet() == 0);
  auto* st = inbox.pop();
  REQUIRE(st != nullptr);
  CHECK(st->id == 1);
  st->release();
  // Every 32nd quiet node since the last drain wakes the consumer: what waits stays bounded.
  int wakes = 0;
  for (int i = 0; i < 64; ++i)
    wakes += inbox.push_quiet(make_state(100 + i), inbox.epoch()) ? 1 : 0;
  CHECK(wakes == 1); // the 32nd; the 64th finds a wake already on its way
  inbox.begin_drain();
  int taken = 0;
  while (auto* n = inbox.pop()) {
    ++taken;
    n->release();
  }
  CHECK(taken == 64);
  // A producer that decided before the consumer began wanting its node wakes it.
  auto seen = inbox.epoch();
  CHECK_FALSE(inbox.want_now()); // nothing quiet waits
  inbox.begin_drain();
  CHECK(inbox.push_quiet(make_state(2), seen));
  // A consumer about to sleep with quiet nodes waiting must come back for them by itself ...
  CHECK_FALSE(inbox.sleep());
  inbox.begin_drain();
  while (auto* n = inbox.pop())
    n->release();
  // ... and one that sleeps without a timer is woken by the next quiet node.
  CHECK(inbox.sleep());
  CHECK(inbox.push_quiet(make_state(3), inbox.epoch()));
  inbox.woke();
  inbox.begin_drain();
  CHECK_FALSE(inbox.push_quiet(make_state(4), inbox.epoch()));
}

TEST_CASE("request_inbox: quiet nodes from many producers reach a consumer that sleeps, none lost",
          "[internals]") {
  // The loop thread's protocol: drain, then sleep until woken if `sleep()` allows, else sleep
  // briefly and drain again. Every node must be drained within the deadline: a quiet node
  // pushed while the consumer went to sleep for good must wake it.
  request_inbox inbox;
  constexpr int producers = 3;
  constexpr int per_producer = 20000;
  std::mutex mutex;
  std::condition_variable cv;
  bool woken = false;
  auto wake = [&] {
    std::lock_guard<std::mutex> guard{mutex};
    woken = true;
    cv.notify_one();
  };
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      std::mt19937 rng{static_cast<unsigned>(p)};
      for (int i = 0; i < per_producer; ++i) {
        auto* st = make_state(static_cast<std::uint64_t>(p * per_producer + i));
        bool must_wake = rng() % 8 == 0 ? inbox.push(st) : inbox.push_quiet(st, inbox.epoch());
        if (must_wake)
          wake();
        if (rng() % 256 == 0)
          std::this_thread::yield();
      }
    });
  std::set<std::uint64_t> seen;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (seen.size() < producers * per_producer && std::chrono::steady_clock::now() < deadline) {
    inbox.begin_drain();
    while (auto* st = inbox.pop()) {
      seen.insert(st->id);
      st->release();
    }
    std::unique_lock<std::mutex> lock{mutex};
    if (inbox.sleep()) {
      cv.wait_until(lock, deadline, [&] { return woken; });
      inbox.woke();
    } else {
      cv.wait_for(lock, 1ms, [&] { return woken; });
    }
    woken = false;
  }
  for (auto& t : ts)
    t.join();
  CHECK(seen.size() == producers * per_producer);
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

namespace {
/// A node whose release pushes another node into the inbox that lets go of it, as a join's
/// dropped task can complete a request that another join of the same instance waits for.
struct chained_node : inbox_node {
  node_inbox<chained_node>* inbox = nullptr;
  chained_node* then = nullptr;
  std::atomic<int>* released = nullptr;
};
void inbox_release(chained_node* n) noexcept {
  if (auto* next = std::exchange(n->then, nullptr))
    n->inbox->push(next); // closed: lets go of it at once
  n->released->fetch_add(1);
}
} // namespace

TEST_CASE("a closing inbox lets go of a node that pushes another one into it", "[internals]") {
  // Shared with the closing thread, which may outlive the test if it deadlocks.
  struct setup {
    node_inbox<chained_node> inbox;
    std::atomic<int> released{0};
    chained_node first, second;
    std::promise<void> closed;
  };
  auto s = std::make_shared<setup>();
  for (auto* n : {&s->first, &s->second}) {
    n->inbox = &s->inbox;
    n->released = &s->released;
  }
  s->first.then = &s->second;
  CHECK(s->inbox.push(&s->first));
  // On a thread of its own with a deadline: letting go under the inbox's lock would deadlock.
  auto done = s->closed.get_future();
  std::thread([s] {
    s->inbox.close();
    s->closed.set_value();
  }).detach();
  REQUIRE(done.wait_for(10s) == std::future_status::ready);
  CHECK(s->released.load() == 2);
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

TEST_CASE("the object pool hands out cache-line blocks and gives a freed block to the next object "
          "of its size class",
          "[internals]") {
  for (std::size_t size :
       {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{500}, object_pool_largest}) {
    INFO("size " << size);
    std::vector<unsigned char*> blocks;
    for (int i = 0; i < 3; ++i) {
      auto* b = static_cast<unsigned char*>(object_pool_allocate(size));
      std::fill(b, b + size, static_cast<unsigned char>(i + 1));
      blocks.push_back(b);
    }
    for (int i = 0; i < 3; ++i) {
      CHECK(std::all_of(blocks[i], blocks[i] + size,
                        [&](unsigned char c) { return c == static_cast<unsigned char>(i + 1); }));
      if (object_pool_active)
        CHECK(reinterpret_cast<std::uintptr_t>(blocks[i]) % object_pool_granule == 0);
    }
    object_pool_free(blocks[1], size);
    // Any size of the same class takes the block back.
    auto same_class = (size + object_pool_granule - 1) / object_pool_granule * object_pool_granule;
    auto* again = object_pool_allocate(same_class);
    if (object_pool_active)
      CHECK(again == blocks[1]);
    object_pool_free(again, same_class);
    object_pool_free(blocks[0], size);
    object_pool_free(blocks[2], size);
  }
  // Larger objects are the system allocator's; they still come and go through the pool's calls.
  auto* big = static_cast<char*>(object_pool_allocate(object_pool_largest + 1));
  big[object_pool_largest] = 'x';
  object_pool_free(big, object_pool_largest + 1);
  object_pool_free(nullptr, 8);
}

TEST_CASE("object pool: blocks taken on one thread and freed on another are never handed out "
          "twice or changed while held",
          "[internals]") {
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  struct held {
    unsigned char* block;
    std::size_t size;
    std::uint64_t stamp;
  };
  std::mutex mutex;
  std::vector<held> shared; // taken by one thread, freed by whichever pops it
  std::unordered_set<void*> live;
  std::atomic<int> duplicates{0};
  std::atomic<int> damaged{0};
  auto stamp_of = [](const held& h) {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    std::memcpy(&head, h.block, sizeof head);
    std::memcpy(&tail, h.block + h.size - sizeof tail, sizeof tail);
    return head == h.stamp && tail == h.stamp;
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937_64 rng{0x5eed0000u + static_cast<unsigned>(t)}; // fixed: a failure reproduces
      // From 16: the stamps at both ends do not overlap.
      std::uniform_int_distribution<std::size_t> size_of{16, object_pool_largest};
      for (int i = 0; i < per_thread; ++i) {
        held h{nullptr, size_of(rng), (std::uint64_t(t) << 32) | static_cast<unsigned>(i)};
        h.block = static_cast<unsigned char*>(object_pool_allocate(h.size));
        std::memcpy(h.block, &h.stamp, sizeof h.stamp);
        std::memcpy(h.block + h.size - sizeof h.stamp, &h.stamp, sizeof h.stamp);
        held victim{nullptr, 0, 0};
        {
          std::lock_guard<std::mutex> guard{mutex};
          if (!live.insert(h.block).second)
            ++duplicates;
          shared.push_back(h);
          if (shared.size() > 64) { // free one taken by any thread, picked at random
            auto k = rng() % shared.size();
            victim = shared[k];
            shared[k] = shared.back();
            shared.pop_back();
            live.erase(victim.block);
          }
        }
        if (victim.block) {
          if (!stamp_of(victim))
            ++damaged;
          object_pool_free(victim.block, victim.size);
        }
      }
    });
  for (auto& th : ts)
    th.join();
  for (auto& h : shared) {
    if (!stamp_of(h))
      ++damaged;
    object_pool_free(h.block, h.size);
  }
  CHECK(duplicates == 0);
  CHECK(damaged == 0);
}

TEST_CASE("latency_histogram: quantiles within one bucket of the truth, from underflow to "
          "overflow, while another thread reads",
          "[internals]") {
  using std::chrono::nanoseconds;
  latency_histogram h;
  CHECK(h.count() == 0);
  CHECK(h.quantile(0.5) == nanoseconds{0});
  // A reader takes quantiles while the one writer records (as metrics do beside the loop).
  std::atomic<bool> done{false};
  std::atomic<bool> monotonic{true};
  std::thread reader{[&] {
    while (!done.load()) {
      auto p50 = h.quantile(0.5);
      auto p99 = h.quantile(0.99);
      if (p99 < p50)
        monotonic = false;
    }
  }};
  std::mt19937_64 rng{42}; // fixed: a failure reproduces
  std::vector<std::int64_t> values;
  for (int i = 0; i < 20000; ++i) {
    // Spread over every power of two from below 1 µs to above the top (~137 s).
    auto v = static_cast<std::int64_t>(
        std::exp2(std::uniform_real_distribution<double>{9.0, 38.0}(rng)));
    values.push_back(v);
    h.record(nanoseconds{v});
  }
  done = true;
  reader.join();
  CHECK(monotonic);
  CHECK(h.count() == values.size());
  std::sort(values.begin(), values.end());
  const auto floor = std::int64_t{1} << latency_histogram::first_power;
  const auto top = std::int64_t{1} << (latency_histogram::first_power + latency_histogram::powers);
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
    INFO("q " << q);
    auto truth = values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
    auto got = h.quantile(q).count();
    // The upper edge of the bucket the q-quantile falls in: never under it, at most an eighth
    // over it; below 1 µs the first edge, above the top the top.
    CHECK(got >= std::min(truth, top));
    CHECK(got <= std::max(floor, std::min(truth + truth / 8 + 1, top)));
  }
}

namespace {

/// Stands for the event loop on a loop thread: handed to its thread as the event loop is.
class stand_in_loop final : public caf::event_based_actor {
public:
  stand_in_loop(caf::actor_config& cfg, loop_thread* thread)
      : caf::event_based_actor(cfg),
        thread_(thread) {}
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit*) override {
    if (mailbox().push_back(std::move(ptr)) == caf::intrusive::inbox_result::unblocked_reader) {
      intrusive_ptr_add_ref(ctrl());
      thread_->notify();
    }
  }
  caf::behavior make_behavior() override {
    return {[](caf::ok_atom) {}};
  }

private:
  loop_thread* thread_;
};

/// A guest of the loop thread that notes, for each number it gets, the sender's order and
/// whether it ran on the loop thread.
class guest final : public caf::event_based_actor {
public:
  struct log {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::pair<int, int>> seen; ///< (sender, number) in handling order
    int off_loop = 0;                      ///< handled on another thread than the loop's
  };
  guest(caf::actor_config& cfg, loop_thread* thread, log* out)
      : caf::event_based_actor(cfg),
        thread_(thread),
        out_(out) {}
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit*) override {
    enqueue_guest(*this, std::move(ptr), *thread_);
  }
  caf::behavior make_behavior() override {
    return {[this](int sender, int number) {
      std::lock_guard<std::mutex> guard{out_->mutex};
      out_->seen.emplace_back(sender, number);
      if (!thread_->on_this_thread())
        ++out_->off_loop;
      out_->changed.notify_all();
    }};
  }

private:
  loop_thread* thread_;
  log* out_;
};

/// An actor system on the runtime's scheduler and a loop thread running a stand-in loop. The
/// loop thread outlives the actor system, as in the runtime.
struct loop_with_guests {
  loop_with_guests() {
    scheduler::load(cfg, scheduler_settings{});
    sys.emplace(cfg);
    thread = std::make_unique<loop_thread>(*sys, nullptr);
    loop = sys->spawn<stand_in_loop, caf::lazy_init>(thread.get());
    thread->start(static_cast<stand_in_loop*>(caf::actor_cast<caf::abstract_actor*>(loop)),
                  std::make_shared<request_inbox>(), std::make_shared<direct_notes>(), [] {});
  }
  ~loop_with_guests() {
    if (loop) {
      caf::anon_send_exit(loop, caf::exit_reason::user_shutdown);
      thread->join();
    }
    loop = nullptr;
    sys.reset();
    thread.reset();
  }
  /// Waits (30 s at most) until `out` saw `n` numbers.
  static bool saw(guest::log& out, std::size_t n) {
    std::unique_lock<std::mutex> lock{out.mutex};
    return out.changed.wait_for(lock, 30s, [&] { return out.seen.size() >= n; });
  }
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  std::unique_ptr<loop_thread> thread;
  caf::actor loop;
};

} // namespace

TEST_CASE("a guest of the loop thread runs there, in each sender's order, beside the loop",
          "[internals][loop]") {
  loop_with_guests l;
  guest::log out;
  auto g = l.sys->spawn<guest, caf::lazy_init>(l.thread.get(), &out);
  constexpr int senders = 3, each = 5000;
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      for (int i = 0; i < each; ++i) {
        caf::anon_send(g, s, i);
        if (i % 16 == 0)
          caf::anon_send(l.loop, caf::ok_atom::value); // the loop has turns of its own
      }
    });
  for (auto& t : threads)
    t.join();
  REQUIRE(loop_with_guests::saw(out, senders * each));
  std::lock_guard<std::mutex> guard{out.mutex};
  CHECK(out.off_loop == 0);
  std::vector<int> next(senders, 0);
  bool ordered = true;
  for (auto& [sender, number] : out.seen) {
    ordered = ordered && number == next[static_cast<std::size_t>(sender)];
    ++next[static_cast<std::size_t>(sender)];
  }
  CHECK(ordered);
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
}

TEST_CASE("once the loop has ended, its guests run on the scheduler and can still end",
          "[internals][loop]") {
  loop_with_guests l;
  guest::log out;
  auto g = l.sys->spawn<guest, caf::lazy_init>(l.thread.get(), &out);
  caf::anon_send(g, 0, 0);
  REQUIRE(loop_with_guests::saw(out, 1));
  caf::anon_send_exit(l.loop, caf::exit_reason::user_shutdown);
  l.thread->join(); // the loop ended, and its thread with it
  l.loop = nullptr;
  caf::anon_send(g, 0, 1);
  REQUIRE(loop_with_guests::saw(out, 2));
  {
    std::lock_guard<std::mutex> guard{out.mutex};
    CHECK(out.off_loop == 1);
  }
  // Its exit is handled too: the actor system's end waits for every actor and returns.
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
}
