#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "loopbridge/blocking_pool.hpp"
#include "loopbridge/cancel_token.hpp"
#include "loopbridge/detail/stream_state.hpp"

namespace loopbridge {

/// The consumer's end of a bounded stream: items a blocking producer makes, at most
/// `max_buffer` ahead of what the consumer took (the lead bound holds at every moment; see
/// `max_lead`). Made by `runtime::stream` (a generator pulled on a blocking pool) or
/// `runtime::stream_separate` (a producer pushing from a thread of its own).
///
/// `next` returns items in production order, then nothing (`std::nullopt`) at the end. If the
/// producer throws, `next` returns the items it produced before, then `loop.worker_failed`
/// with the message. Closing the stream — `close()`, the destructor, or the runtime stopping —
/// stops the producer even if it is waiting for room: a pulled generator is destroyed at once
/// (or right after the item it is producing), a pushing producer's `push` throws
/// `stream_closed`; either way its cleanup runs promptly.
///
///     auto lines = rt.stream(read_lines_of(path), 64);
///     while (auto line = lines.next(5s)) {
///       if (!line->has_value()) break; // the end
///       use(**line);
///     }
///
/// Threads: one consumer thread at a time; `close` from any thread. `next` blocks up to its
/// timeout; on a scheduler thread use only `next(0ns)`.
/// What `runtime::deliver` did: requests the actor answered, requests that failed, and the
/// first error (a failed request, or the stream's own failure).
struct stream_delivery {
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::optional<error> first_error;
};

template <class T>
class stream {
public:
  stream() = default;
  explicit stream(std::shared_ptr<detail::stream_state<T>> st) : state_(std::move(st)) {}
  stream(stream&&) noexcept = default;
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() { close(); }

  /// The next item (waiting up to `timeout`), `std::nullopt` at the end, or an error: the
  /// producer's failure, `loop.timeout`, `loop.cancelled` after `close`, `loop.stopped` after
  /// the runtime stopped.
  result<std::optional<T>> next(std::chrono::nanoseconds timeout = std::chrono::hours(24)) {
    if (!state_)
      return error{errc::bad_request, "next() on an empty stream"};
    auto now = std::chrono::steady_clock::now();
    auto deadline =
        timeout >= std::chrono::steady_clock::time_point::max() - now
            ? std::chrono::steady_clock::time_point::max()
            : now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    return state_->next(deadline);
  }

  /// Stops the producer and drops what it had buffered. Idempotent; never blocks on the
  /// producer (a generator's destructor may run on the calling thread).
  void close() {
    if (state_)
      state_->close(error{errc::cancelled, "the stream was closed by its consumer"});
  }

  /// The largest lead the producer had over the consumer so far; never above `max_buffer`.
  std::size_t max_lead() const { return state_ ? state_->max_lead() : 0; }
  /// Items produced so far.
  std::uint64_t produced() const { return state_ ? state_->produced() : 0; }
  /// For the runtime, which closes open streams when it stops.
  std::weak_ptr<detail::stream_control> control() const { return state_; }

private:
  std::shared_ptr<detail::stream_state<T>> state_;
};

/// What a pushing producer (`runtime::stream_separate`) writes to.
///
/// Threads: the producer's own.
template <class T>
class stream_writer {
public:
  stream_writer(detail::stream_state<T>* st, const cancel_token* token) : st_(st), token_(token) {}

  /// Appends `item`; waits while the producer is `max_buffer` items ahead. Throws
  /// `stream_closed` once the consumer closed the stream or the runtime stops — let it
  /// propagate (after your cleanup): the producer is done.
  void push(T item) {
    st_->push(std::move(item), [this] { return token_->cancelled(); });
  }
  /// True once pushing would throw `stream_closed`.
  bool closed() const { return st_->is_closed() || token_->cancelled(); }
  const cancel_token& token() const { return *token_; }

private:
  detail::stream_state<T>* st_;
  const cancel_token* token_;
};

namespace detail {

template <class Gen>
using generated_t = typename std::invoke_result_t<Gen&>::value_type;

/// Runs `body` once on `st`; if the job is dropped without running (its pool stopped),
/// tells the stream instead.
template <class T>
struct stream_ticket {
  std::shared_ptr<stream_state<T>> st;
  bool ran = false;
  explicit stream_ticket(std::shared_ptr<stream_state<T>> s) : st(std::move(s)) {}
  stream_ticket(stream_ticket&&) noexcept = default;
  stream_ticket& operator=(stream_ticket&&) noexcept = default;
  ~stream_ticket() {
    if (st && !ran)
      st->fill_lost(error{errc::stopped, "the stream's producer could not run (its pool stopped)"});
  }
};

/// A stream whose generator `gen` is called on `pool`'s threads, one fill at a time.
template <class Gen>
stream<generated_t<Gen>> make_pulled_stream(const blocking_pool& pool, Gen gen,
                                            std::size_t max_buffer) {
  using T = generated_t<Gen>;
  auto st = std::make_shared<stream_state<T>>(max_buffer);
  auto p = pool.with_timeout(std::chrono::nanoseconds::max()); // the consumer has the deadlines
  st->set_generator(
      std::make_unique<typename stream_state<T>::template generator_model<Gen>>(std::move(gen)),
      [p](std::shared_ptr<stream_state<T>> s) {
        auto f = p.offload([ticket = stream_ticket<T>{std::move(s)}]() mutable {
          ticket.ran = true;
          ticket.st->fill();
        });
        return !(f.ready() && !f.get().ok());
      });
  return stream<T>{std::move(st)};
}

} // namespace detail
} // namespace loopbridge
