#pragma once

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "loopbridge/convert.hpp"
#include "loopbridge/detail/completion_sink.hpp"
#include "loopbridge/detail/offload_state.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/detail/type_tag.hpp"
#include "loopbridge/detail/wire_form.hpp"
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
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(T::validate(std::declval<const params&>()))>>
    : std::true_type {};
template <class T, class = void>
struct serves_offload : std::false_type {};
template <class T>
struct serves_offload<T, std::void_t<decltype(T::serves_offload)>>
    : std::bool_constant<T::serves_offload> {};
template <class T, class = void>
struct has_default_count : std::false_type {};
template <class T>
struct has_default_count<T, std::void_t<decltype(T::default_count())>> : std::true_type {};
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
  /// The name in YAML: the inspected type name without `_request` (`echo`, `echo_stats`).
  std::string name;
  /// The inspected type name (`echo_request`); for a type without `inspect`, its C++ name.
  std::string type_name;
  /// The request's field names.
  std::vector<std::string> fields;
  /// The reply type (routes look adapters up by it).
  const detail::type_tag* reply_tag = nullptr;
  /// Builds a request from a map of fields; nullptr (and problems) when they do not fit.
  detail::request_ref (*from_value)(const value& fields,
                                    std::vector<field_problem>& problems) = nullptr;
  /// The reply of a successfully completed request (`typed_request_state<Req>`) as a value.
  value (*reply_to_value)(detail::request_state& st) = nullptr;

  // The wire form (CAF's binary format through the types' `inspect`), for requests that cross
  // a process; all null for types without one. Decoding takes bytes from anyone: it never
  // throws, and on malformed input fails with `loop.bad_request` saying why.
  /// Appends the request of `st` (a `typed_request_state<Req>`); fails when a field has no
  /// wire form (a number that is not finite).
  result<void> (*encode_request)(detail::request_state& st, std::vector<char>& out) = nullptr;
  /// A request state holding the request read from `data`.
  result<detail::request_ref> (*decode_request)(const char* data, std::size_t size) = nullptr;
  /// Appends the reply of `st`; fails when it has none or a field has no wire form.
  result<void> (*encode_reply)(detail::request_state& st, std::vector<char>& out) = nullptr;
  /// Reads a reply from `data` into `st`'s reply (`st` is a `reply_state` of the reply type).
  result<void> (*decode_reply)(detail::request_state& st, const char* data,
                               std::size_t size) = nullptr;
  /// Write the request, or the reply, of `st` through any CAF serializer, unchecked: the wire
  /// form written in place into a message between processes (`wire_body`), whose checks run on
  /// a measuring pass first. `save_reply` fails when `st` has no reply.
  caf::error (*save_request)(detail::request_state& st, caf::serializer& f) = nullptr;
  caf::error (*save_reply)(detail::request_state& st, caf::serializer& f) = nullptr;
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
  /// Checks that go beyond single params (how params combine, structured params); may be null.
  std::vector<param_problem> (*validate)(const loopbridge::params& p) = nullptr;
  /// Instances of an actor that does not set `count`; null: 1.
  std::uint32_t (*default_count)() = nullptr;

  /// The first request type with no wire form (no `inspect`, or offloaded functions), or
  /// nullptr when every request and reply can be serialized: only then may the kind's actors
  /// run on another node.
  const request_entry* local_only_request() const noexcept {
    for (auto& r : requests)
      if (!r.decode_request || !r.decode_reply)
        return &r;
    return nullptr;
  }
  bool portable() const noexcept { return local_only_request() == nullptr; }

  const request_entry* find_request(const detail::type_tag* t) const noexcept {
    for (auto& r : requests)
      if (r.tag == t)
        return &r;
    return nullptr;
  }
  /// The YAML names of the requests it serves, in declaration order (types without `inspect`
  /// and offloaded functions have none).
  std::vector<std::string> request_names() const {
    std::vector<std::string> out;
    for (auto& r : requests)
      if (!r.name.empty())
        out.push_back(r.name);
    return out;
  }
  /// `kind echo serves: echo echo_stats`, for hints.
  std::string served_hint() const {
    std::string hint = "kind " + name + " serves:";
    for (auto& n : request_names())
      hint += " " + n;
    return hint;
  }

  /// The request type named `name` in YAML (`echo`, or the full `echo_request`), or nullptr.
  const request_entry* find_request(std::string_view name) const noexcept {
    for (auto& r : requests)
      if (!r.name.empty() && (r.name == name || r.type_name == name))
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

template <class Req>
request_ref request_from_value(const value& fields, std::vector<field_problem>& problems) {
  Req req{};
  if (!loopbridge::from_value(fields, req, "", problems))
    return {};
  return request_ref{make_ref<typed_request_state<Req>>(std::move(req))};
}

template <class Req>
result<void> encode_request_of(request_state& st, std::vector<char>& out) {
  return wire_encode(static_cast<typed_request_state<Req>&>(st).request, out);
}

template <class Req>
result<request_ref> decode_request_as(const char* data, std::size_t size) {
  Req req{};
  if (auto read = wire_decode(req, data, size); !read)
    return std::move(read).error();
  return request_ref{make_ref<typed_request_state<Req>>(std::move(req))};
}

template <class Req>
result<void> encode_reply_of(request_state& st, std::vector<char>& out) {
  auto& typed = static_cast<reply_state<reply_t<Req>>&>(st);
  if (!typed.reply)
    return error{errc::bad_request, "the request has no reply"};
  return wire_encode(*typed.reply, out);
}

template <class Req>
caf::error save_request_of(request_state& st, caf::serializer& f) {
  return f(static_cast<typed_request_state<Req>&>(st).request);
}

template <class Req>
caf::error save_reply_of(request_state& st, caf::serializer& f) {
  auto& typed = static_cast<reply_state<reply_t<Req>>&>(st);
  if (!typed.reply)
    return caf::sec::invalid_argument;
  return f(*typed.reply);
}

template <class Req>
result<void> decode_reply_into(request_state& st, const char* data, std::size_t size) {
  reply_t<Req> reply{};
  if (auto read = wire_decode(reply, data, size); !read)
    return read;
  static_cast<reply_state<reply_t<Req>>&>(st).reply = std::move(reply);
  return {};
}

template <class Req>
value reply_as_value(request_state& st) {
  auto& typed = static_cast<typed_request_state<Req>&>(st);
  return typed.reply ? loopbridge::to_value(*typed.reply) : value{};
}

/// The C++ name of `t`, demangled.
std::string readable_type_name(const std::type_info& t);

inline std::string yaml_request_name(std::string type_name) {
  static const std::string suffix = "_request";
  if (type_name.size() > suffix.size() &&
      type_name.compare(type_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    type_name.resize(type_name.size() - suffix.size());
  return type_name;
}

template <class Kind, class Req>
request_entry make_request_entry() {
  request_entry e;
  e.tag = tag_of<Req>();
  e.reply_tag = tag_of<reply_t<Req>>();
  e.dispatch = &dispatch_request<Kind, Req>;
  if constexpr (std::is_default_constructible_v<Req> && is_inspectable_struct<Req>::value) {
    e.type_name = type_name_of<Req>();
    e.name = yaml_request_name(e.type_name);
    e.fields = field_names_of<Req>();
    e.from_value = &request_from_value<Req>;
    e.reply_to_value = &reply_as_value<Req>;
    e.encode_request = &encode_request_of<Req>;
    e.decode_request = &decode_request_as<Req>;
    e.encode_reply = &encode_reply_of<Req>;
    e.decode_reply = &decode_reply_into<Req>;
    e.save_request = &save_request_of<Req>;
    e.save_reply = &save_reply_of<Req>;
  } else { // no YAML or wire form: the converters stay null
    e.type_name = readable_type_name(typeid(Req));
  }
  return e;
}

template <class Kind, class... Rs>
std::vector<request_entry> request_entries(request_list<Rs...>) {
  return {make_request_entry<Kind, Rs>()...};
}

/// Runs an offloaded function (whatever its type) on the worker's thread.
inline void dispatch_offload(worker&, request_ref st, ref_ptr<completion_sink> sink) {
  auto* job = static_cast<offload_job*>(st->request_data());
  job->run(std::move(st), std::move(sink));
}

/// The entry that makes a kind a blocking pool: it runs `offload_state`s.
inline request_entry offload_request_entry() {
  request_entry e;
  e.tag = tag_of<offload_marker>();
  e.reply_tag = nullptr;
  e.dispatch = &dispatch_offload;
  return e;
}
} // namespace detail

/// Builds the descriptor of an actor kind. `Kind` provides:
/// - `static constexpr const char* name` — the kind's name in topologies (`"echo"`);
/// - `using requests = request_list<...>` — the request types it serves;
/// - `using worker = ...` — its worker class (derived from `loopbridge::worker`, constructible
///   from `worker_context&`, one `handle(Req&, responder<reply_t<Req>>&)` per request type);
/// - optionally `static std::vector<param_decl> params()`,
///   `static std::vector<param_problem> validate(const params&)` (checks across params) and
///   `static execution execution(const params&)` (default: scheduled) and
///   `static std::uint32_t default_count()` (instances when a spec does not say; default 1);
///   `static constexpr bool serves_offload = true` makes its actors blocking pools that run
///   offloaded functions (`runtime::offload`).
template <class Kind>
kind_descriptor describe_kind(std::string doc = {}) {
  kind_descriptor d;
  d.name = Kind::name;
  d.tag = detail::tag_of<Kind>();
  d.doc = std::move(doc);
  if constexpr (detail::has_params<Kind>::value)
    d.params = Kind::params();
  d.requests = detail::request_entries<Kind>(typename Kind::requests{});
  if constexpr (detail::serves_offload<Kind>::value)
    d.requests.push_back(detail::offload_request_entry());
  d.create = [](worker_context& ctx) -> std::unique_ptr<worker> {
    return std::make_unique<typename Kind::worker>(ctx);
  };
  if constexpr (detail::has_validate<Kind>::value)
    d.validate = [](const loopbridge::params& p) { return Kind::validate(p); };
  if constexpr (detail::has_default_count<Kind>::value)
    d.default_count = [] { return static_cast<std::uint32_t>(Kind::default_count()); };
  if constexpr (detail::has_execution<Kind>::value)
    d.mode = [](const loopbridge::params& p) { return Kind::execution(p); };
  else
    d.mode = [](const loopbridge::params&) { return execution::scheduled; };
  return d;
}

} // namespace loopbridge

// Handles to kinds (`worker_context::actor` returns them); after the definitions above, which
// actor_handle.hpp needs.
#include "loopbridge/actor_handle.hpp"
