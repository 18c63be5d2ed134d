// The `runtime` facade: each call delegates to the runtime's core (runtime_core.hpp), whose
// parts live in the folders beside this file.
#include "loopbridge/runtime.hpp"

#include "runtime_core.hpp"

#include "loopbridge/detail/spin_policy.hpp"
#include "loopbridge/log.hpp"

namespace loopbridge {

runtime::runtime(kind_registry kinds, runtime_options options) {
  log::set_level_default(options.log);
  detail::spin_policy::set(options.loop_spin, options.host_spin);
  core_ = std::make_shared<detail::runtime_core>(std::move(kinds), options);
  core_->start();
}

runtime::runtime(kind_registry kinds, const topology& topo)
    : runtime(std::move(kinds), topo.options()) {
  if (auto ok = start(topo); !ok) {
    core_->stop();
    throw error_exception(ok.error());
  }
}

runtime::~runtime() {
  if (core_)
    core_->stop();
}

result<void> runtime::spawn(actor_spec spec) {
  return core_->spawn(std::move(spec));
}

result<void> runtime::spawn(std::string name, std::string kind, value params) {
  actor_spec spec;
  spec.name = std::move(name);
  spec.kind = std::move(kind);
  spec.params = std::move(params);
  return spawn(std::move(spec));
}

const shutdown_report& runtime::stop() {
  return core_->stop();
}

result<void> runtime::start(std::vector<actor_spec> specs) {
  return core_->start_all(std::move(specs));
}

result<void> runtime::start(const topology& topo) {
  return core_->start_topology(topo);
}

result<std::uint16_t> runtime::serve_node(const node_spec& node) {
  return core_->serve_node(node);
}

result<void> runtime::add_route(std::string_view from, std::string_view to) {
  return core_->add_route(from, to);
}

void runtime::submit_pipeline_states(detail::request_ref parent, detail::request_ref first,
                                     const detail::type_tag* final_reply,
                                     std::chrono::nanoseconds timeout) {
  core_->submit_pipeline(std::move(parent), std::move(first), final_reply, timeout);
}

std::optional<std::string> runtime::route_from(std::string_view from) const {
  return core_->route_from(from);
}

future<stopped_event> runtime::stop_actor(std::string_view name, std::chrono::nanoseconds timeout) {
  return core_->stop_actor(name, timeout);
}

std::vector<actor_metrics> runtime::metrics() const {
  return core_->metrics();
}

result<actor_metrics> runtime::metrics(std::string_view name) const {
  return core_->metrics(name);
}

std::vector<node_metrics> runtime::nodes() const {
  return core_->nodes();
}

event_inbox runtime::subscribe(subscription s) {
  return core_->subscribe(std::move(s));
}

const runtime_options& runtime::options() const noexcept {
  return core_->options();
}

result<std::shared_ptr<const detail::actor_record>>
runtime::find(std::string_view name, const detail::type_tag* kind,
              std::string_view kind_name) const {
  return core_->find(name, kind, kind_name);
}

std::shared_ptr<detail::bridge> runtime::bridge() const {
  return core_;
}

void runtime::track_stream(std::weak_ptr<detail::stream_control> s) {
  core_->track_stream(std::move(s));
}

result<value> runtime::ready_info(std::string_view name) const {
  return core_->ready_info(name);
}

result<blocking_pool> runtime::pool(std::string_view name) const {
  return core_->pool(name);
}

result<blocking_pool> runtime::default_pool() {
  return core_->default_pool();
}

result<blocking_pool> runtime::separate_pool() {
  return core_->separate_pool();
}

} // namespace loopbridge
