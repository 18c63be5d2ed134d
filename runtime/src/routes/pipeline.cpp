// Pipelines: a request that follows the routes from its entry actor, and the parent request
// that receives the last stage's reply.
#include "runtime_core.hpp"

#include "loopbridge/text.hpp"

namespace loopbridge::detail {

namespace {

/// The parent of a pipeline submitted with value fields: the last stage's reply as a value.
class value_pipeline_parent final : public reply_state<value> {
public:
  value_pipeline_parent() : reply_state<value>(tag_of<value_pipeline_parent>()) {}
  void* request_data() noexcept override { return nullptr; }
  bool adopt_reply(request_state& last) noexcept override {
    auto* entry = last.target->kind->find_request(last.request_type());
    if (!entry || !entry->reply_to_value)
      return false;
    reply = entry->reply_to_value(last);
    return true;
  }
};

value parent_value(request_state& st) {
  auto& typed = static_cast<reply_state<value>&>(st);
  return typed.reply ? *typed.reply : value{};
}

} // namespace

result<runtime_core::pipeline_end> runtime_core::pipeline_reply(const actor_record& entry,
                                                                const type_tag* request) const {
  std::lock_guard<std::mutex> guard{records_mutex_};
  const actor_record* at = &entry;
  for (std::size_t hops = 0; hops <= records_.size(); ++hops) {
    auto* e = at->kind->find_request(request);
    if (!e)
      return error{errc::bad_request, quote(at->spec.name) + " does not serve this request type"};
    auto route = routes_.find(at->spec.name);
    if (route == routes_.end())
      return pipeline_end{at->spec.name, e->name, e->reply_tag, hops};
    auto& next = *records_.at(route->second);
    auto* adapter = kinds_.find_adapter(e->reply_tag, *next.kind);
    if (!adapter)
      return error{errc::bad_request, "route " + quote(at->spec.name) + " -> " +
                                          quote(next.spec.name) +
                                          ": no adapter for this reply type"};
    request = adapter->to;
    at = &next;
  }
  return error{errc::bad_request, "the routes from " + quote(entry.spec.name) + " form a cycle"};
}

void runtime_core::submit_pipeline(request_ref parent, request_ref first,
                                   const type_tag* final_reply, clock::duration timeout) {
  auto fail = [&](error e) {
    parent->fail(std::move(e));
    parent->mark_settled();
  };
  auto chain = pipeline_reply(*first->target, first->request_type());
  if (!chain)
    return fail(std::move(chain).error());
  if (final_reply && chain->reply != final_reply) {
    auto& from = first->target->spec.name;
    if (chain->routes == 0)
      return fail(error{errc::bad_request,
                        "the pipeline from " + quote(from) + " has no route: " + quote(from) +
                            " answers " + quote(chain->last_request) +
                            " itself, with another reply type than the one asked for (add a "
                            "route from " +
                            quote(from) + " under 'routes:' in the topology)"});
    return fail(error{errc::bad_request, "the pipeline from " + quote(from) + " ends at " +
                                             quote(chain->last) + " (request " +
                                             quote(chain->last_request) +
                                             "), whose reply type is not the one asked for"});
  }
  stamp(*first, timeout);
  parent->id = first->id;
  parent->deadline = first->deadline;
  parent->context = first->context;
  parent->target = first->target;
  first->parent = parent;
  enqueue(first);
  if (first->resolved() && first->failed() && !parent->resolved())
    fail(first->error());
}

value_future runtime_core::submit_pipeline_value(std::string_view actor, std::string_view request,
                                                 const value& fields,
                                                 std::chrono::nanoseconds timeout) {
  auto parent = make_ref<value_pipeline_parent>();
  value_future f{request_ref{parent}, &parent_value, shared_from_this()};
  auto first = make_request(actor, request, fields);
  if (!first) {
    parent->fail(std::move(first).error());
    parent->mark_settled();
    return f;
  }
  submit_pipeline(request_ref{parent}, std::move(first->state), nullptr, timeout);
  return f;
}

} // namespace loopbridge::detail
