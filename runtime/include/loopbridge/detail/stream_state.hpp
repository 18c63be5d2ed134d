#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "loopbridge/detail/spin_policy.hpp"
#include "loopbridge/error.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

/// Thrown by `stream_writer::push` when the consumer closed the stream (or the runtime stopped):
/// it unwinds the producer, so its cleanup (destructors) runs at once. Producers let it pass.
struct stream_closed {};

namespace detail {

/// What the runtime needs of any stream: closing it when the runtime stops.
class stream_control {
public:
  virtual ~stream_control() = default;
  virtual void close(error reason) = 0;
};

/// The buffer between one producer and one consumer, bounded by the producer's lead.
///
/// Invariant: `produced - taken <= max_buffer` — the producer is never more than `max_buffer`
/// items ahead of what the consumer took. A pulled producer (a generator called on a blocking
/// pool) is only called while it is behind; a pushing producer (its own thread) waits in `push`.
/// Threads: one producer side and one consumer side at a time; everything under `mutex`.
template <class T>
class stream_state final : public stream_control,
                           public std::enable_shared_from_this<stream_state<T>> {
public:
  /// A pulled producer: returns the next item, or nothing at the end. Move-only.
  struct generator_base {
    virtual ~generator_base() = default;
    virtual std::optional<T> next() = 0;
  };
  template <class G>
  struct generator_model final : generator_base {
    explicit generator_model(G g) : fn(std::move(g)) {}
    std::optional<T> next() override { return fn(); }
    G fn;
  };
  using generator = std::unique_ptr<generator_base>;
  /// Schedules one `fill()` on the pool; false if it could not be (the pool is gone).
  using scheduler = std::function<bool(std::shared_ptr<stream_state>)>;

  explicit stream_state(std::size_t max_buffer)
      : max_buffer_(std::max<std::size_t>(1, max_buffer)) {}

  // -- setup ----------------------------------------------------------------------------------

  /// Installs a pulled producer and starts filling the buffer at once.
  void set_generator(generator g, scheduler s) {
    std::unique_lock<std::mutex> lock{mutex_};
    gen_ = std::move(g);
    schedule_ = std::move(s);
    refill(lock);
  }

  // -- consumer -------------------------------------------------------------------------------

  /// The next item; nullopt at the end; an error when the producer failed (after the items it
  /// produced before), the stream was closed, or `deadline` passed (`loop.timeout`).
  result<std::optional<T>> next(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    bool spun = false;
    for (;;) {
      if (!buffer_.empty()) {
        std::optional<T> item = std::move(buffer_.front());
        buffer_.pop_front();
        ++taken_;
        if (buffer_.empty())
          has_items_.store(false, std::memory_order_relaxed);
        refill(lock);
        producer_cv_.notify_one();
        return item;
      }
      if (closed_) // closed by the consumer or the runtime: whatever the producer did after
        return close_reason_;
      if (failure_)
        return *failure_;
      if (ended_)
        return std::optional<T>{};
      refill(lock);
      if (filling_ && !spun && spin_for_item(lock, deadline)) {
        spun = true; // once per wait: the next empty buffer may spin again
        continue;
      }
      spun = false;
      if (consumer_cv_.wait_until(lock, deadline) == std::cv_status::timeout && buffer_.empty() &&
          !failure_ && !ended_ && !closed_)
        return error{errc::timeout, "no stream item within the deadline"};
    }
  }

  /// Closes the stream: the producer stops (a pulled generator is destroyed now unless it is
  /// producing an item, then right after; a pushing producer's `push` throws `stream_closed`).
  void close(error reason) override {
    generator doomed;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (closed_)
        return;
      closed_ = true;
      close_reason_ = std::move(reason);
      buffer_.clear();
      if (!filling_)
        doomed = std::move(gen_); // destroyed below, outside the lock: its cleanup runs now
    }
    producer_cv_.notify_all();
    consumer_cv_.notify_all();
  }

  /// Largest lead observed (`produced - taken` right after an item was produced).
  std::size_t max_lead() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return max_lead_;
  }
  std::uint64_t produced() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return produced_;
  }

  // -- pulled producer (on a pool thread) ------------------------------------------------------

  /// Calls the generator while the producer is behind, then returns the thread to the pool.
  void fill() {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!closed_ && !ended_ && !failure_ && produced_ - taken_ < max_buffer_) {
      lock.unlock();
      std::optional<T> item;
      std::optional<error> failed;
      try {
        item = gen_->next();
      } catch (const std::exception& e) {
        failed =
            error{errc::worker_failed, std::string{"the stream's producer threw: "} + e.what()};
      } catch (...) {
        failed = error{errc::worker_failed, "the stream's producer threw"};
      }
      lock.lock();
      if (closed_)
        break;
      if (failed) {
        failure_ = std::move(failed);
      } else if (!item) {
        ended_ = true;
      } else {
        buffer_.push_back(std::move(*item));
        ++produced_;
        max_lead_ = std::max<std::size_t>(max_lead_, produced_ - taken_);
        has_items_.store(true, std::memory_order_release);
      }
      consumer_cv_.notify_one();
    }
    filling_ = false;
    generator doomed;
    if (closed_ || ended_ || failure_)
      doomed = std::move(gen_); // done with it: its cleanup runs now, outside the lock
    lock.unlock();
    consumer_cv_.notify_one();
  }

  /// A scheduled fill never ran (its pool stopped first).
  void fill_lost(error why) {
    generator doomed;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      filling_ = false;
      if (!closed_ && !ended_ && !failure_)
        failure_ = std::move(why);
      doomed = std::move(gen_);
    }
    consumer_cv_.notify_all();
  }

  // -- pushing producer (its own thread) -------------------------------------------------------

  /// Appends `item`, first waiting while the producer is `max_buffer` ahead. Throws
  /// `stream_closed` once the stream is closed. `cancelled` is polled while waiting.
  void push(T item, const std::function<bool()>& cancelled) {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!closed_ && produced_ - taken_ >= max_buffer_) {
      producer_cv_.wait_for(lock, std::chrono::milliseconds(20));
      if (cancelled && cancelled() && !closed_) {
        closed_ = true;
        close_reason_ = error{errc::cancelled, "the stream's producer was cancelled"};
      }
    }
    if (closed_)
      throw stream_closed{};
    buffer_.push_back(std::move(item));
    ++produced_;
    max_lead_ = std::max<std::size_t>(max_lead_, produced_ - taken_);
    lock.unlock();
    consumer_cv_.notify_one();
  }
  bool is_closed() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return closed_;
  }
  /// The pushing producer returned (`failure`: it threw).
  void finish(std::optional<error> failure) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (failure && !failure_)
        failure_ = std::move(failure);
      else
        ended_ = true;
    }
    consumer_cv_.notify_all();
  }

private:
  /// With the lock held, the buffer empty and a fill running: spins (without the lock, as a
  /// host thread waiting on a future does) for the producer's next item instead of sleeping at
  /// once; a consumer as fast as its producer would otherwise sleep and be woken per item.
  /// True if it spun (the caller checks again under the lock); false if it may not spin.
  bool spin_for_item(std::unique_lock<std::mutex>& lock,
                     std::chrono::steady_clock::time_point deadline) {
    auto spin = spin_policy::host();
    if (spin.count() <= 0 || !spin_policy::try_acquire_host_slot())
      return false;
    lock.unlock();
    spin_policy::spin_until(std::min(deadline, std::chrono::steady_clock::now() + spin),
                            [this] { return has_items_.load(std::memory_order_acquire); });
    spin_policy::release_host_slot();
    lock.lock();
    return true;
  }

  /// With the lock held: schedules a fill if a pulled producer is behind and none is running.
  void refill(std::unique_lock<std::mutex>& lock) {
    if (!schedule_ || filling_ || closed_ || ended_ || failure_ || !gen_)
      return;
    // Refill once half the buffer was taken: fewer, longer fills (each runs until the producer
    // is max_buffer ahead again).
    auto lead = produced_ - taken_;
    if (lead > max_buffer_ / 2)
      return;
    filling_ = true;
    auto schedule = schedule_;
    lock.unlock();
    bool ok = schedule(this->shared_from_this());
    lock.lock();
    if (!ok && filling_) {
      filling_ = false;
      if (!failure_)
        failure_ = error{errc::stopped, "the stream's pool is gone"};
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable consumer_cv_;
  std::condition_variable producer_cv_;
  std::deque<T> buffer_;
  std::size_t max_buffer_;
  std::uint64_t produced_ = 0;
  std::uint64_t taken_ = 0;
  std::size_t max_lead_ = 0;
  bool closed_ = false;
  bool ended_ = false;
  bool filling_ = false;
  /// `!buffer_.empty()`, readable without the lock by a spinning consumer (pulled producers).
  std::atomic<bool> has_items_{false};
  std::optional<error> failure_;
  error close_reason_;
  generator gen_;
  scheduler schedule_;
};

} // namespace detail
} // namespace loopbridge
