// The loop thread: running the event-loop actor, parking and waking it.
#include "loop/loop_thread.hpp"

#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/intrusive_ptr.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "events/publish_batch.hpp"
#include "scheduler/stall_detector.hpp"
#include "threads/futex.hpp"
#include "tuning.hpp"

#include "loopbridge/detail/spin_policy.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void mark_scheduler_thread() noexcept;

namespace {

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, nullptr, nullptr, 0);
}

} // namespace

loop_thread::loop_thread(caf::actor_system& sys, std::shared_ptr<stall_detector> stalls)
    : caf::execution_unit(&sys),
      stalls_(std::move(stalls)) {}

loop_thread::~loop_thread() {
  if (thread_.joinable())
    thread_.detach(); // only if the runtime gave up on it (reported as stuck)
}

void loop_thread::start(caf::resumable* loop, std::shared_ptr<request_inbox> reports,
                        std::shared_ptr<direct_notes> notes, std::function<void()> drain) {
  loop_ = loop;
  reports_ = std::move(reports);
  notes_ = std::move(notes);
  drain_ = std::move(drain);
  thread_ = std::thread([this] {
    log::name_thread("lb.loop");
    mark_scheduler_thread();
    if (stalls_)
      stalls_->attach("lb.loop");
    run();
    if (stalls_)
      stalls_->detach();
  });
}

void loop_thread::join() {
  if (thread_.joinable())
    thread_.join();
}

void loop_thread::notify() noexcept {
  loop_ready_.store(true, std::memory_order_release);
  signal();
}

void loop_thread::host(caf::resumable* guest) {
  {
    std::lock_guard<std::mutex> guard{guests_mutex_};
    if (!closed_) {
      guests_.push_back(guest);
      guest = nullptr;
    }
  }
  if (guest) {
    system().scheduler().enqueue(guest);
    return;
  }
  guests_ready_.store(true, std::memory_order_release);
  signal();
}

void enqueue_guest(caf::scheduled_actor& self, caf::mailbox_element_ptr ptr, loop_thread& thread) {
  auto mid = ptr->mid;
  auto sender = ptr->sender;
  switch (self.mailbox().push_back(std::move(ptr))) {
    case caf::intrusive::inbox_result::unblocked_reader:
      intrusive_ptr_add_ref(self.ctrl());
      thread.host(&self);
      break;
    case caf::intrusive::inbox_result::queue_closed:
      if (mid.is_request()) {
        caf::detail::sync_request_bouncer bounce{self.fail_state()};
        bounce(sender, mid);
      }
      break;
    case caf::intrusive::inbox_result::success:
      break;
  }
}

void loop_thread::signal() noexcept {
  if (ready_.exchange(1, std::memory_order_seq_cst) == 0 &&
      sleeping_.load(std::memory_order_seq_cst) != 0)
    futex(ready_, FUTEX_WAKE_PRIVATE, 1);
}

void loop_thread::exec_later(caf::resumable* job) {
  system().scheduler().enqueue(job);
}

bool loop_thread::resume() {
  caf::resumable::resume_result result;
  {
    activity_scope watched{nullptr, 0, nullptr};
    result = loop_->resume(this, loop_turn);
  }
  switch (result) {
    case caf::resumable::resume_later:
      loop_ready_.store(true, std::memory_order_relaxed);
      ready_.store(1, std::memory_order_relaxed);
      return true;
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(loop_);
      return true;
    case caf::resumable::done:
    case caf::resumable::shutdown_execution_unit:
      intrusive_ptr_release(loop_);
      return false;
  }
  return true;
}

void loop_thread::resume_guests() {
  // A runtime without guests pays one plain load per turn: no lock, no read-modify-write.
  if (!guests_ready_.load(std::memory_order_acquire) ||
      !guests_ready_.exchange(false, std::memory_order_acq_rel))
    return;
  {
    std::lock_guard<std::mutex> guard{guests_mutex_};
    running_.swap(guests_);
  }
  for (auto* guest : running_) {
    caf::resumable::resume_result result;
    {
      activity_scope watched{nullptr, 0, nullptr};
      result = guest->resume(this, loop_turn);
    }
    if (result == caf::resumable::resume_later)
      host(guest); // after the others, and after the loop's turn
    else
      intrusive_ptr_release(guest);
  }
  running_.clear();
}

void loop_thread::close_guests() {
  std::vector<caf::resumable*> left;
  {
    std::lock_guard<std::mutex> guard{guests_mutex_};
    closed_ = true;
    left.swap(guests_);
  }
  for (auto* guest : left)
    system().scheduler().enqueue(guest);
}

void loop_thread::park() noexcept {
  auto max_spin = spin_policy::loop();
  auto start = adaptive_spin::clock::now();
  if (spin_.spin(max_spin, start, [this] { return ready_.load(std::memory_order_acquire) != 0; }))
    return;
  if (stalls_)
    stalls_->dozing();
  sleeping_.store(1, std::memory_order_seq_cst);
  while (ready_.load(std::memory_order_seq_cst) == 0) {
    // Until woken if nothing quiet waits: every quiet report or note from now on wakes it.
    // While traffic is dense (`linger_`), a timed sleep instead, whatever waits.
    bool deep = !linger_ && reports_->sleep();
    if (deep && !notes_->sleep()) {
      reports_->woke();
      deep = false;
    }
    if (deep) {
      auto slept = std::chrono::steady_clock::now();
      futex(ready_, FUTEX_WAIT_PRIVATE, 0);
      reports_->woke();
      notes_->woke();
      // Woken within `report_delay` of going to sleep: the next sleeps are timed ones, so
      // that quiet reports and notes trickling in (one per request of a steady stream) are
      // taken together at their end instead of each waking this thread.
      linger_ = std::chrono::steady_clock::now() - slept < report_delay;
      continue;
    }
    // Quiet reports or notes may wait: back for them within `report_delay`, unless woken
    // before.
    futex_wait_until(ready_, 0, std::chrono::steady_clock::now() + report_delay);
    if (ready_.load(std::memory_order_seq_cst) != 0)
      break;
    if (reports_->quiet() != 0 || notes_->pending()) {
      sleeping_.store(0, std::memory_order_seq_cst); // its own message needs no futex wake
      drain_();
      sleeping_.store(1, std::memory_order_seq_cst);
    } else {
      linger_ = false; // nothing came: traffic has thinned out, sleep until woken
    }
  }
  sleeping_.store(0, std::memory_order_relaxed);
  if (stalls_)
    stalls_->woke();
  spin_.parked(max_spin, start);
}

void loop_thread::run() {
  for (;;) {
    {
      // The events of a stretch of messages reach subscribers together (one wake-up each).
      publish_batch events;
      for (std::size_t n = 0; n < loop_stretch; ++n) {
        if (ready_.exchange(0, std::memory_order_acq_rel) == 0)
          break;
        resume_guests();
        if (loop_ready_.exchange(false, std::memory_order_acq_rel) && !resume()) {
          close_guests();
          return;
        }
      }
    }
    if (ready_.load(std::memory_order_acquire) == 0)
      park();
  }
}

} // namespace loopbridge::detail
