#pragma once

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/detail/type_tag.hpp"
#include "loopbridge/log.hpp"
#include "loopbridge/params.hpp"
#include "loopbridge/responder.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge {

/// The request types an actor kind serves: `using requests = request_list<a_request, b_request>;`.
/// Each request type names its reply: `struct a_request { using reply_type = a_reply; ... };`.
template <class... Requests>
struct request_list {};

template <class Request>
using reply_t = typename Request::reply_type;

namespace detail {
template <class Req, class List>
struct list_contains;
template <class Req, class... Rs>
struct list_contains<Req, request_list<Rs...>> : std::disjunction<std::is_same<Req, Rs>...> {};

template <class T, class = void>
struct has_execution : std::false_type {};
template <class T>
struct has_execution<T, std::void_t<decltype(T::execution(std::declval<const params&>()))>>
    : std::true_type {};
template <class T, class = void>
struct has_params : std::false_type {};
template <class T>
struct has_params<T, std::void_t<decltype(T::params())>> : std::true_type {};
} // namespace detail

/// True if actor kind `Kind` serves requests of type `Req`.
template <class Kind, class Req>
inline constexpr bool handles_v = detail::list_contains<Req, typename Kind::requests>::value;

/// How the runtime drives one request type of a kind.
struct request_entry {
  const detail::type_tag* tag;
  /// Hands `st` (a `typed_request_state<Req>`) to the worker's handler.
  void (*dispatch)(worker& w, detail::request_ref st,
                   detail::ref_ptr<detail::completion_sink> sink);
};

/// Everything the runtime knows about an actor kind, as plain data and function pointers: its
/// name, declared params, request types and how to create and drive its workers. Made by
/// `describe_kind<Kind>()`; the runtime core knows no particular kind.
struct kind_descriptor {
  std::string name;
  const detail::type_tag* tag = nullptr;
  std::string doc;
  std::vector<param_decl> params;
  std::vector<request_entry> requests;
  /// Creates a worker on its instance's thread; may throw to report a start failure.
  std::unique_ptr<worker> (*create)(worker_context& ctx) = nullptr;
  /// Where the kind's handlers run, given its params.
  execution (*mode)(const loopbridge::params& p) = nullptr;

  const request_entry* find_request(const detail::type_tag* t) const noexcept {
    for (auto& r : requests)
      if (r.tag == t)
        return &r;
    return nullptr;
  }
};

namespace detail {
template <class Kind, class Req>
void dispatch_request(worker& w, request_ref st, ref_ptr<completion_sink> sink) {
  using R = reply_t<Req>;
  auto* typed = static_cast<typed_request_state<Req>*>(st.get());
  responder<R> r{ref_ptr<reply_state<R>>::share(typed), std::move(sink)};
  try {
    static_cast<typename Kind::worker&>(w).handle(typed->request, r);
  } catch (const std::exception& e) {
    LB_LOG(warning, "worker", Kind::name << " handler threw: " << e.what());
    r.fail(error{errc::worker_failed, std::string{"handler threw: "} + e.what()});
  } catch (...) {
    r.fail(error{errc::worker_failed, "handler threw a non-standard exception"});
  }
}

template <class Kind, class... Rs>
std::vector<request_entry> request_entries(request_list<Rs...>) {
  return {request_entry{tag_of<Rs>(), &dispatch_request<Kind, Rs>}...};
}
} // namespace detail

/// Builds the descriptor of an actor kind. `Kind` provides:
/// - `static constexpr const char* name` — the kind's name in topologies (`"echo"`);
/// - `using requests = request_list<...>` — the request types it serves;
/// - `using worker = ...` — its worker class (derived from `loopbridge::worker`, constructible
///   from `worker_context&`, one `handle(Req&, responder<reply_t<Req>>&)` per request type);
/// - optionally `static std::vector<param_decl> params()` and
///   `static execution execution(const params&)` (default: scheduled).
template <class Kind>
kind_descriptor describe_kind(std::string doc = {}) {
  kind_descriptor d;
  d.name = Kind::name;
  d.tag = detail::tag_of<Kind>();
  d.doc = std::move(doc);
  if constexpr (detail::has_params<Kind>::value)
    d.params = Kind::params();
  d.requests = detail::request_entries<Kind>(typename Kind::requests{});
  d.create = [](worker_context& ctx) -> std::unique_ptr<worker> {
    return std::make_unique<typename Kind::worker>(ctx);
  };
  if constexpr (detail::has_execution<Kind>::value)
    d.mode = [](const loopbridge::params& p) { return Kind::execution(p); };
  else
    d.mode = [](const loopbridge::params&) { return execution::scheduled; };
  return d;
}

} // namespace loopbridge
