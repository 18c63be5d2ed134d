#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loopbridge/kind.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

/// Converts the reply of one pipeline stage into the request of the next (a route's adapter).
struct adapter_entry {
  const detail::type_tag* from = nullptr; ///< the reply type it takes
  const detail::type_tag* to = nullptr;   ///< the request type it makes
  /// Builds the next stage's request from a completed stage (whose reply it may move from).
  std::function<result<detail::request_ref>(detail::request_state& done_stage)> convert;
};

/// The actor kinds a runtime can spawn, by name. Built once before the runtime starts
/// (`add`), then shared read-only: lookups are thread-safe, `add` is not.
class kind_registry {
public:
  /// Registers `Kind` (see `describe_kind`). A second kind of the same name replaces the first.
  template <class Kind>
  kind_registry& add(std::string doc = {}) {
    return add(describe_kind<Kind>(std::move(doc)));
  }
  kind_registry& add(kind_descriptor d);

  /// Registers how a reply of type `FromReply` becomes a request of type `ToRequest`, so a route
  /// can send one actor's replies on to another: `fn` is `ToRequest(FromReply&&)` or
  /// `result<ToRequest>(FromReply&&)` — optionally with the request's context as a second
  /// argument, `(FromReply&&, const context&)`. An error fails the pipeline with its code.
  /// Adapters run on the event loop's thread: keep them cheap (move, do not copy, payloads).
  template <class FromReply, class ToRequest, class F>
  kind_registry& adapt(F fn) {
    adapter_entry a;
    a.from = detail::tag_of<FromReply>();
    a.to = detail::tag_of<ToRequest>();
    a.convert = [fn = std::move(fn)](detail::request_state& done) -> result<detail::request_ref> {
      auto& typed = static_cast<detail::reply_state<FromReply>&>(done);
      if (!typed.reply)
        return error{errc::bad_request, "the stage has no reply to pass on"};
      auto call = [&] {
        if constexpr (std::is_invocable_v<F&, FromReply&&, const context&>)
          return fn(std::move(*typed.reply), done.context);
        else
          return fn(std::move(*typed.reply));
      };
      if constexpr (std::is_same_v<decltype(call()), ToRequest>) {
        return detail::request_ref{
            detail::make_ref<detail::typed_request_state<ToRequest>>(call())};
      } else {
        auto r = call();
        if (!r)
          return std::move(r).error();
        return detail::request_ref{
            detail::make_ref<detail::typed_request_state<ToRequest>>(std::move(*r))};
      }
    };
    adapters_.push_back(std::move(a));
    return *this;
  }

  /// The kind named `name`, or nullptr.
  const kind_descriptor* find(std::string_view name) const;
  /// An adapter from a reply of type `from` to any request type `to_kind` serves, or nullptr.
  const adapter_entry* find_adapter(const detail::type_tag* from,
                                    const kind_descriptor& to_kind) const;
  /// All kind names, sorted.
  std::vector<std::string> names() const;

private:
  std::map<std::string, std::shared_ptr<const kind_descriptor>, std::less<>> kinds_;
  std::vector<adapter_entry> adapters_;
};

} // namespace loopbridge
