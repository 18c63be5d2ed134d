#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "loopbridge/cancel_token.hpp"
#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/responder.hpp"

namespace loopbridge {

/// The reply of an offloaded function that returns nothing.
struct no_value {
  template <class Inspector>
  friend auto inspect(Inspector& f, no_value&) {
    return f(caf::meta::type_name("no_value"));
  }
};

namespace detail {

/// The request type of every offloaded function: blocking pools serve it, whatever the
/// function returns (the state carries the function and its typed reply).
struct offload_marker {};

/// A function waiting to run on a blocking pool.
class offload_job {
public:
  virtual ~offload_job() = default;
  /// Runs the function on the calling (pool) thread and answers the request through `sink`.
  virtual void run(request_ref self, ref_ptr<completion_sink> sink) = 0;
};

/// A reply state for a request that was never submitted (it failed before it could be).
template <class R>
class unsent_state final : public reply_state<R> {
public:
  unsent_state() : reply_state<R>(tag_of<offload_marker>()) {}
  void* request_data() noexcept override { return nullptr; }
};

/// What `F` returns, called with a cancel token if it takes one.
template <class F, bool WithToken = std::is_invocable_v<F&, const cancel_token&>>
struct offload_result {
  using type = std::invoke_result_t<F&>;
};
template <class F>
struct offload_result<F, true> {
  using type = std::invoke_result_t<F&, const cancel_token&>;
};
template <class F>
using offload_result_t = typename offload_result<F>::type;

template <class T>
using offload_reply_t = std::conditional_t<std::is_void_v<T>, no_value, std::decay_t<T>>;

/// The state of one offloaded call of `F`, whose future holds an `offload_reply_t`.
template <class F>
class offload_state final : public reply_state<offload_reply_t<offload_result_t<F>>>,
                            public offload_job {
public:
  using reply_type = offload_reply_t<offload_result_t<F>>;

  explicit offload_state(F fn)
      : reply_state<reply_type>(tag_of<offload_marker>()),
        fn_(std::move(fn)) {}

  void* request_data() noexcept override { return static_cast<offload_job*>(this); }

  void run(request_ref self, ref_ptr<completion_sink> sink) override {
    (void)self; // keeps this state alive while the function runs
    responder<reply_type> r{ref_ptr<reply_state<reply_type>>::share(this), std::move(sink)};
    cancel_token token{this};
    try {
      if constexpr (std::is_invocable_v<F&, const cancel_token&>) {
        if constexpr (std::is_void_v<offload_result_t<F>>) {
          fn_(token);
          r.reply(no_value{});
        } else {
          r.reply(fn_(token));
        }
      } else {
        if constexpr (std::is_void_v<offload_result_t<F>>) {
          fn_();
          r.reply(no_value{});
        } else {
          r.reply(fn_());
        }
      }
    } catch (const std::exception& e) {
      r.fail(error{errc::worker_failed, std::string{"the offloaded function threw: "} + e.what()});
    } catch (...) {
      r.fail(error{errc::worker_failed, "the offloaded function threw a non-standard exception"});
    }
  }

private:
  F fn_;
};

} // namespace detail
} // namespace loopbridge
