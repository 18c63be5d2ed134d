// The stall detector: a thread that finds handlers running too long.
#include "scheduler/stall_detector.hpp"

#include <algorithm>

#include <time.h>

#include "threads/futex.hpp"

#include "loopbridge/detail/actor_record.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

namespace {

thread_local activity_slot* tl_slot = nullptr;
thread_local stall_detector* tl_detector = nullptr;

/// The monotonic clock at the kernel tick's resolution (a few ms): a read per handler costs a
/// fifth of a precise one, and the threshold (100 ms by default) is far coarser. It runs on the
/// same base as `steady_clock`, a tick behind at most, so a deadline from it serves a futex.
std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

stall_detector::stall_detector(std::chrono::nanoseconds threshold, report_fn report)
    : threshold_(threshold),
      report_(std::move(report)) {}

stall_detector::~stall_detector() {
  stop();
}

void stall_detector::start() {
  if (threshold_.count() <= 0 || thread_.joinable())
    return;
  thread_ = std::thread([this] {
    log::name_thread("lb.watch");
    run();
  });
}

void stall_detector::stop() {
  stopping_.store(true, std::memory_order_seq_cst);
  kick();
  word_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(word_);
  if (thread_.joinable())
    thread_.join();
}

std::shared_ptr<activity_slot> stall_detector::attach(std::string thread_name) {
  auto slot = std::make_shared<activity_slot>();
  slot->thread_name = std::move(thread_name);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    slots_.push_back(slot);
  }
  tl_slot = slot.get();
  tl_detector = this;
  woke();
  return slot;
}

void stall_detector::detach() {
  auto* slot = tl_slot;
  if (!slot || tl_detector != this)
    return;
  tl_slot = nullptr;
  tl_detector = nullptr;
  std::lock_guard<std::mutex> guard{mutex_};
  slots_.erase(
      std::remove_if(slots_.begin(), slots_.end(), [slot](auto& s) { return s.get() == slot; }),
      slots_.end());
}

void stall_detector::woke() noexcept {
  auto* slot = tl_slot;
  if (!slot || tl_detector != this)
    return;
  // Pairs with the detector's park: it sets `parked_` and then reads every `awake`; this sets
  // `awake` and then reads `parked_`. One of the two sees the other (sequential consistency).
  slot->awake.store(1, std::memory_order_seq_cst);
  if (parked_.load(std::memory_order_seq_cst) != 0)
    kick();
}

void stall_detector::dozing() noexcept {
  if (auto* slot = tl_slot; slot && tl_detector == this)
    slot->awake.store(0, std::memory_order_seq_cst);
}

void stall_detector::kick() noexcept {
  if (parked_.exchange(0, std::memory_order_seq_cst) != 0) {
    word_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(word_);
  }
}

bool stall_detector::read(const activity_slot& slot, std::int64_t now, stall& out,
                          std::uint64_t& serial) {
  // A seqlock: `serial` is odd while the thread writes the fields, even once they describe
  // the handler that runs; a change while reading means another handler began.
  serial = slot.serial.load(std::memory_order_acquire);
  if (serial % 2 != 0)
    return false;
  auto since = slot.since.load(std::memory_order_relaxed);
  out.actor_index = slot.actor_index.load(std::memory_order_relaxed);
  out.actor_sequence = slot.actor_sequence.load(std::memory_order_relaxed);
  out.instance = slot.instance.load(std::memory_order_relaxed);
  out.request = slot.request.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (slot.serial.load(std::memory_order_relaxed) != serial || since == 0)
    return false;
  out.elapsed = std::chrono::nanoseconds{now - since};
  out.thread = slot.thread_name;
  return true;
}

std::vector<stall> stall_detector::running() {
  std::vector<stall> out;
  auto now = now_ns();
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& slot : slots_) {
    stall s;
    std::uint64_t serial = 0;
    if (read(*slot, now, s, serial))
      out.push_back(std::move(s));
  }
  return out;
}

void stall_detector::run() {
  using clock = std::chrono::steady_clock;
  auto threshold = threshold_.count();
  std::vector<stall> found;
  while (!stopping_.load(std::memory_order_acquire)) {
    auto now = now_ns();
    auto next_check = now + threshold;
    bool any_awake = false;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      for (auto& slot : slots_) {
        if (slot->awake.load(std::memory_order_relaxed) != 0)
          any_awake = true;
        stall s;
        std::uint64_t serial = 0;
        if (!read(*slot, now, s, serial))
          continue;
        if (s.elapsed.count() < threshold) {
          next_check = std::min(next_check, now - s.elapsed.count() + threshold);
          continue;
        }
        if (slot->reported == serial)
          continue; // reported already: once per occurrence
        slot->reported = serial;
        found.push_back(std::move(s));
      }
    }
    for (auto& s : found)
      report_(s);
    found.clear();
    auto seen = word_.load(std::memory_order_seq_cst);
    if (!any_awake) {
      // Everything parked: sleep until a thread wakes (it kicks us), re-checking after
      // announcing the park so a thread that woke meanwhile is not missed.
      parked_.store(1, std::memory_order_seq_cst);
      bool still_idle = true;
      {
        std::lock_guard<std::mutex> guard{mutex_};
        for (auto& slot : slots_)
          if (slot->awake.load(std::memory_order_seq_cst) != 0)
            still_idle = false;
      }
      if (still_idle && !stopping_.load(std::memory_order_seq_cst))
        futex_wait_until(word_, seen, clock::time_point::max());
      parked_.store(0, std::memory_order_seq_cst);
      continue;
    }
    futex_wait_until(word_, seen,
                     clock::time_point{std::chrono::nanoseconds{std::max(next_check, now + 1)}});
  }
}

activity_scope::activity_scope(const actor_record* actor, std::uint32_t instance,
                               const type_tag* request) noexcept
    : slot_(tl_slot) {
  if (!slot_ || slot_->since.load(std::memory_order_relaxed) != 0) {
    slot_ = nullptr; // no slot, or nested in a scope that already covers it
    return;
  }
  auto serial = slot_->serial.load(std::memory_order_relaxed);
  slot_->serial.store(serial + 1, std::memory_order_relaxed); // odd: being written
  std::atomic_thread_fence(std::memory_order_release);
  slot_->actor_index.store(actor ? actor->index : 0, std::memory_order_relaxed);
  slot_->actor_sequence.store(actor ? actor->sequence + 1 : 0, std::memory_order_relaxed);
  slot_->instance.store(instance, std::memory_order_relaxed);
  slot_->request.store(request, std::memory_order_relaxed);
  slot_->since.store(now_ns(), std::memory_order_relaxed);
  slot_->serial.store(serial + 2, std::memory_order_release); // even: describes this handler
}

activity_scope::~activity_scope() {
  if (slot_)
    slot_->since.store(0, std::memory_order_release);
}

} // namespace loopbridge::detail
