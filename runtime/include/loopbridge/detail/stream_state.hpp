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
///
/// The consumer moves everything the producer buffered to its own queue in one step and takes
/// items from there without the lock, so producer and consumer meet on the mutex about once per
/// batch, not once per item; an item counts as taken when `next` returns it. Each side wakes
/// the other only when that one waits: the consumer for an item, the producer for room (half
/// the buffer for a pulled producer, so it is woken once per half buffer).
///
/// Threads: one producer side and one consumer side at a time; `close` from any thread. The
/// shared buffer and the flags are under `mutex_`; the counters are atomic so that either side
/// reads the other's progress without it.
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

  /// Installs a pulled producer and starts filling the buffer at once. Before the stream is
  /// handed to its consumer.
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
    if (!taking_.empty() && !closed_.load(std::memory_order_acquire))
      return take();
    std::unique_lock<std::mutex> lock{mutex_};
    bool spun = false;
    for (;;) {
      if (closed_) { // closed by the consumer or the runtime: whatever the producer did after
        taking_.clear();
        return close_reason_;
      }
      if (!taking_.empty())
        break;
      if (!buffer_.empty()) {
        taking_.swap(buffer_); // all of it, in order: `taking_` was empty
        has_items_.store(false, std::memory_order_relaxed);
        break;
      }
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
      consumer_waits_ = true;
      auto status = consumer_cv_.wait_until(lock, deadline);
      consumer_waits_ = false;
      if (status == std::cv_status::timeout && buffer_.empty() && !failure_ && !ended_ && !closed_)
        return error{errc::timeout, "no stream item within the deadline"};
    }
    lock.unlock();
    return take();
  }

  /// Closes the stream: the producer stops (a pulled generator is destroyed now unless it is
  /// producing an item, then right after; a pushing producer's `push` throws `stream_closed`).
  /// Items the consumer had already moved to its own queue go at its next `next` or with the
  /// stream.
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
  std::uint64_t produced() const { return produced_.load(std::memory_order_acquire); }

  // -- pulled producer (on a pool thread) ------------------------------------------------------

  /// Calls the generator while the producer is behind; once it is `max_buffer` ahead, lingers
  /// (see `linger`) for the consumer to take half the buffer and goes on, or returns the thread
  /// to the pool.
  void fill() {
    std::unique_lock<std::mutex> lock{mutex_};
    auto began = std::chrono::steady_clock::now();
    do
      produce(lock);
    while (linger(lock, began));
    filling_ = false;
    generator doomed;
    if (closed_ || ended_ || failure_)
      doomed = std::move(gen_); // done with it: its cleanup runs now, outside the lock
    lock.unlock();
    consumer_cv_.notify_one();
  }

  /// How long a fill that made the producer `max_buffer` ahead keeps its pool thread, waiting
  /// for the consumer to take half the buffer, before it gives the thread back. A consumer that
  /// keeps up then costs one wake-up of the producer per half buffer, where scheduling a new
  /// fill on the pool costs three threads' hand-offs.
  static constexpr std::chrono::milliseconds linger_wait{1};
  /// The longest a fill keeps its pool thread while lingering: past it, the fill gives the
  /// thread back at the next full buffer and the consumer schedules the next fill, so other
  /// work on the pool waits at most about this long behind a fast stream.
  static constexpr std::chrono::milliseconds fill_turn{10};

  /// A scheduled fill never ran (its pool stopped first).
  void fill_lost(error why) {
    generator doomed;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      filling_ = false;
      if (!closed_ && !ended_ && !failure_)
        failure_ = std::move(why);
      finished_.store(true, std::memory_order_release);
      doomed = std::move(gen_);
    }
    consumer_cv_.notify_all();
  }

  // -- pushing producer (its own thread) -------------------------------------------------------

  /// Appends `item`, first waiting while the producer is `max_buffer` ahead. Throws
  /// `stream_closed` once the stream is closed. `cancelled` is polled while waiting.
  void push(T item, const std::function<bool()>& cancelled) {
    std::unique_lock<std::mutex> lock{mutex_};
    while (!closed_ && lead() >= max_buffer_) {
      wait_for_room(lock, max_buffer_ - 1,
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
      if (cancelled && cancelled() && !closed_) {
        closed_ = true;
        close_reason_ = error{errc::cancelled, "the stream's producer was cancelled"};
      }
    }
    if (closed_)
      throw stream_closed{};
    append(std::move(item));
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
      finished_.store(true, std::memory_order_release);
    }
    consumer_cv_.notify_all();
  }

private:
  /// Items produced and not yet returned by `next` (some may sit in the consumer's queue).
  std::uint64_t lead() const noexcept {
    return produced_.load(std::memory_order_relaxed) - taken_.load(std::memory_order_seq_cst);
  }

  /// On the consumer's thread, `taking_` not empty: returns its first item, counts it taken,
  /// and wakes a producer waiting for the room that made or schedules a fill.
  std::optional<T> take() {
    std::optional<T> item = std::move(taking_.front());
    taking_.pop_front();
    taken_.store(taken_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    auto now_lead = lead();
    // The store above and the producer's store to `producer_waits_` are both seq_cst: either
    // this sees the producer waiting, or the producer sees this item taken before it waits.
    if (producer_waits_.load(std::memory_order_seq_cst) &&
        now_lead <= wake_lead_.load(std::memory_order_relaxed) &&
        producer_waits_.exchange(false, std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> guard{mutex_}; // it is waiting, or about to look again
      producer_cv_.notify_one();
    } else if (schedule_ && now_lead <= max_buffer_ / 2 &&
               !filling_.load(std::memory_order_acquire) &&
               !finished_.load(std::memory_order_acquire)) {
      std::unique_lock<std::mutex> lock{mutex_};
      refill(lock);
    }
    return item;
  }

  /// With the lock held, on the producer's thread: appends a produced item and wakes a waiting
  /// consumer.
  void append(T item) {
    buffer_.push_back(std::move(item));
    auto produced = produced_.load(std::memory_order_relaxed) + 1;
    produced_.store(produced, std::memory_order_release);
    max_lead_ = std::max<std::size_t>(max_lead_, produced - taken_.load(std::memory_order_acquire));
    has_items_.store(true, std::memory_order_release);
    if (consumer_waits_)
      consumer_cv_.notify_one();
  }

  /// With the lock held, on the producer's thread: waits until the lead fell to `wanted`, the
  /// stream closed, or `until` passed. True if the lead fell to `wanted`.
  bool wait_for_room(std::unique_lock<std::mutex>& lock, std::uint64_t wanted,
                     std::chrono::steady_clock::time_point until) {
    return spin_for_room(lock, wanted, until) || park_for_room(lock, wanted, until);
  }

  /// With the lock held: spins (without the lock; see `spin_policy::host`) for the lead to
  /// fall to `wanted`, as a consumer waiting for an item does — a consumer that keeps up makes
  /// room within microseconds, where a parked producer would need a wake-up. True if it fell.
  bool spin_for_room(std::unique_lock<std::mutex>& lock, std::uint64_t wanted,
                     std::chrono::steady_clock::time_point until) {
    auto spin = spin_policy::host();
    if (spin.count() <= 0)
      return false;
    lock.unlock();
    spin_policy::spin_until(std::min(until, std::chrono::steady_clock::now() + spin), [&] {
      return closed_.load(std::memory_order_relaxed) || lead() <= wanted;
    });
    lock.lock();
    return !closed_ && lead() <= wanted;
  }

  /// With the lock held: parks until the lead fell to `wanted` (the consumer wakes it once it
  /// does), the stream closed, or `until` passed. True if it fell.
  bool park_for_room(std::unique_lock<std::mutex>& lock, std::uint64_t wanted,
                     std::chrono::steady_clock::time_point until) {
    wake_lead_.store(wanted, std::memory_order_relaxed);
    producer_waits_.store(true, std::memory_order_seq_cst);
    bool room = producer_cv_.wait_until(lock, until, [&] { return closed_ || lead() <= wanted; });
    producer_waits_.store(false, std::memory_order_relaxed);
    return room && !closed_;
  }

  /// With the lock held: calls the generator while the producer is behind and nothing ended
  /// the stream (the generator runs without the lock).
  void produce(std::unique_lock<std::mutex>& lock) {
    while (!closed_ && !ended_ && !failure_ && lead() < max_buffer_) {
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
        return;
      if (failed) {
        failure_ = std::move(failed);
        finished_.store(true, std::memory_order_release);
        consumer_cv_.notify_one();
      } else if (!item) {
        ended_ = true;
        finished_.store(true, std::memory_order_release);
        consumer_cv_.notify_one();
      } else {
        append(std::move(*item));
      }
    }
  }

  /// With the lock held, after `produce`: if the producer stopped only because it is
  /// `max_buffer` ahead and the fill that `began` has not had its turn (`fill_turn`), waits for
  /// the consumer to take half the buffer (or to close the stream): it spins, then, if the
  /// consumer is taking items, parks up to `linger_wait`. True when the producer may go on.
  bool linger(std::unique_lock<std::mutex>& lock, std::chrono::steady_clock::time_point began) {
    if (closed_ || ended_ || failure_)
      return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= began + fill_turn)
      return false;
    auto until = std::min(now + linger_wait, began + fill_turn);
    auto taken = taken_.load(std::memory_order_relaxed);
    if (spin_for_room(lock, max_buffer_ / 2, until))
      return true;
    // A consumer that took nothing while the producer spun is busy elsewhere: the thread goes
    // back to the pool now, and the consumer schedules the next fill when it wants one.
    if (closed_ || taken_.load(std::memory_order_relaxed) == taken)
      return false;
    return park_for_room(lock, max_buffer_ / 2, until);
  }

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
    // is max_buffer ahead again, and lingers for more room).
    if (lead() > max_buffer_ / 2)
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
      finished_.store(true, std::memory_order_release);
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable consumer_cv_;
  std::condition_variable producer_cv_;
  std::deque<T> buffer_; ///< produced, not yet moved to the consumer's queue
  std::deque<T> taking_; ///< the consumer's own: moved from `buffer_`, not yet returned
  std::size_t max_buffer_;
  std::atomic<std::uint64_t> produced_{0}; ///< written by the producer under the lock
  std::atomic<std::uint64_t> taken_{0};    ///< written by the consumer, without the lock
  std::size_t max_lead_ = 0;
  /// Written under the lock; atomic so that the consumer reads them without it.
  std::atomic<bool> closed_{false};
  std::atomic<bool> filling_{false};
  bool ended_ = false;
  bool consumer_waits_ = false; ///< the consumer waits on `consumer_cv_`
  /// `!buffer_.empty()`, readable without the lock by a spinning consumer (pulled producers).
  std::atomic<bool> has_items_{false};
  /// The producer ended, failed or is gone (`ended_ || failure_`, or no pool): readable by the
  /// consumer without the lock.
  std::atomic<bool> finished_{false};
  /// A producer waits in `push` or `linger` for the lead to fall to `wake_lead_`: the consumer
  /// wakes it once it does, and not for every item it takes.
  std::atomic<bool> producer_waits_{false};
  std::atomic<std::uint64_t> wake_lead_{0};
  std::optional<error> failure_;
  error close_reason_;
  generator gen_;
  scheduler schedule_;
};

} // namespace detail
} // namespace loopbridge
