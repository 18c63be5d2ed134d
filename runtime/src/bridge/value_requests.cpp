// Requests built from value fields by request name (the untyped path that tools and scenarios
// use), and their submission.
#include "runtime_core.hpp"

#include "loopbridge/detail/stop_request.hpp"
#include "loopbridge/detail/value_access.hpp"
#include "loopbridge/runtime.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::detail {

value_future runtime_core::submit_value(std::string_view actor, std::string_view request,
                                        const value& fields, std::chrono::nanoseconds timeout) {
  auto made = make_request(actor, request, fields);
  if (!made) {
    auto failed = make_ref<typed_request_state<stop_request>>(stop_request{});
    failed->fail(std::move(made).error());
    failed->mark_settled();
    return value_future{request_ref{failed}, nullptr, shared_from_this()};
  }
  auto& st = made->state;
  auto* entry = made->target->kind->find_request(st->request_type());
  submit(st, timeout);
  return value_future{std::move(st), entry->reply_to_value, shared_from_this()};
}

result<runtime_core::made_request> runtime_core::make_request(std::string_view actor,
                                                              std::string_view request,
                                                              const value& fields) const {
  auto failed = [](error e) { return result<made_request>{std::move(e)}; };
  auto rec = find(actor, nullptr, {});
  if (!rec)
    return failed(std::move(rec).error());
  auto& kind = *(*rec)->kind;
  auto* entry = kind.find_request(request);
  if (!entry || !entry->from_value) {
    std::string msg =
        "actor " + quote(actor) + " (kind " + kind.name + ") serves no request " + quote(request);
    auto suggestion = did_you_mean(request, kind.request_names());
    msg += " (" + (suggestion.empty() ? kind.served_hint() : suggestion) + ")";
    return failed(error{errc::not_found, msg});
  }
  std::vector<field_problem> problems;
  auto st = entry->from_value(fields, problems);
  if (!st) {
    std::string msg = "request " + quote(entry->name) + " to " + quote(actor) + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      msg += (i ? "; " : "") + problems[i].path + ": " + problems[i].message;
      if (!problems[i].hint.empty())
        msg += " (" + problems[i].hint + ")";
    }
    return failed(error{errc::bad_request, msg});
  }
  st->target = rec->get();
  return made_request{std::move(st), std::move(*rec)};
}

value_future value_access::submit_value(runtime& rt, std::string_view actor,
                                        std::string_view request, const value& fields,
                                        std::chrono::nanoseconds timeout) {
  return rt.core_->submit_value(actor, request, fields, timeout);
}

value_future value_access::submit_pipeline_value(runtime& rt, std::string_view entry,
                                                 std::string_view request, const value& fields,
                                                 std::chrono::nanoseconds timeout) {
  return rt.core_->submit_pipeline_value(entry, request, fields, timeout);
}

} // namespace loopbridge::detail
