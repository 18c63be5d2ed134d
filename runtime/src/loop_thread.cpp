#include "loop_thread.hpp"

#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/intrusive_ptr.hpp>

#include "loopbridge/detail/spin_policy.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge::detail {

void mark_scheduler_thread() noexcept;

namespace {

/// Messages the loop handles per resume before it lets the actors it woke run.
constexpr std::size_t loop_throughput = 256;
/// Messages a worker handles per resume on this thread before yielding to the loop.
constexpr std::size_t worker_throughput = 64;

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, nullptr, nullptr, 0);
}

} // namespace

loop_thread::loop_thread(caf::actor_system& sys) : caf::execution_unit(&sys) {}

loop_thread::~loop_thread() {
  if (thread_.joinable())
    thread_.detach(); // only if the runtime gave up on it (reported as stuck)
}

void loop_thread::start(caf::resumable* loop) {
  loop_ = loop;
  thread_ = std::thread([this] {
    log::name_thread("lb.loop");
    mark_scheduler_thread();
    run();
  });
}

void loop_thread::join() {
  if (thread_.joinable())
    thread_.join();
}

void loop_thread::notify() noexcept {
  if (ready_.exchange(1, std::memory_order_seq_cst) == 0 &&
      sleeping_.load(std::memory_order_seq_cst) != 0)
    futex(ready_, FUTEX_WAKE_PRIVATE, 1);
}

void loop_thread::exec_later(caf::resumable* job) {
  local_.push_back(job);
}

bool loop_thread::resume(caf::resumable* job) {
  bool is_loop = job == loop_;
  switch (job->resume(this, is_loop ? loop_throughput : worker_throughput)) {
    case caf::resumable::resume_later:
      if (is_loop)
        ready_.store(1, std::memory_order_relaxed);
      else
        local_.push_back(job);
      return true;
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(job);
      return true;
    case caf::resumable::done:
    case caf::resumable::shutdown_execution_unit:
      intrusive_ptr_release(job);
      return false;
  }
  return true;
}

void loop_thread::park() noexcept {
  // Adaptive spin: after a burst of work, wait for the next message by spinning about as long
  // as the recent idle gaps were (at most the configured maximum), so request/response
  // traffic never pays a futex wake-up; when the loop is really idle the spin decays to none.
  using namespace std::chrono;
  auto max_spin = spin_policy::loop();
  auto start = steady_clock::now();
  if (max_spin.count() > 0 && spin_.count() > 0) {
    if (spin_policy::spin_until(start + spin_,
                                [this] { return ready_.load(std::memory_order_acquire) != 0; })) {
      spin_ = std::min<nanoseconds>(
          max_spin, std::max<nanoseconds>(spin_, 2 * (steady_clock::now() - start)));
      return;
    }
  }
  sleeping_.store(1, std::memory_order_seq_cst);
  while (ready_.load(std::memory_order_seq_cst) == 0)
    futex(ready_, FUTEX_WAIT_PRIVATE, 0);
  sleeping_.store(0, std::memory_order_relaxed);
  if (max_spin.count() > 0) {
    auto idle = steady_clock::now() - start;
    // Woken soon after parking: spinning that long would have caught it. Long idle: spin less.
    spin_ = idle < max_spin ? std::min<nanoseconds>(max_spin, 2 * duration_cast<nanoseconds>(idle))
                            : spin_ / 2;
  }
}

void loop_thread::run() {
  bool loop_alive = true;
  while (loop_alive || !local_.empty()) {
    if (loop_alive && ready_.exchange(0, std::memory_order_acq_rel) == 1)
      loop_alive = resume(loop_);
    // Run the actors the loop woke, in wake order; each gets a bounded slice so the loop
    // stays responsive.
    for (auto n = local_.size(); n > 0 && !local_.empty(); --n) {
      auto* job = local_.front();
      local_.pop_front();
      resume(job);
    }
    if (loop_alive && local_.empty() && ready_.load(std::memory_order_acquire) == 0)
      park();
  }
}

} // namespace loopbridge::detail
