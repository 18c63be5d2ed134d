// The runner's common ground: dispatch on the step type, placeholders in fields and
// expectations, sending requests, and checking outcomes.
#include "runner.hpp"

#include <cstdio>
#include <filesystem>

#include "loopbridge/context.hpp"
#include "loopbridge/tools/value_requests.hpp"
#include "loopbridge/tools/workload.hpp"

#include "value_match.hpp"

namespace loopbridge::testing::detail {

namespace {

std::string code_of(const error& e) {
  return e.domain() + "." + e.code();
}

} // namespace

std::string ms_text(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

std::string scenario_dir(const config::scenario& s) {
  auto dir = std::filesystem::path{s.source}.parent_path().string();
  return dir.empty() ? "." : dir;
}

verdict check_outcome(const value& expect, const std::string& expect_error,
                      const std::string& expect_message, const result<value>& got) {
  if (!expect_error.empty()) {
    if (got)
      return verdict::fail("error " + expect_error, "success: " + got->to_string());
    if (code_of(got.error()) != expect_error)
      return verdict::fail("error " + expect_error,
                           "error " + code_of(got.error()) + ": " + got.error().message());
    if (!expect_message.empty() && got.error().message().find(expect_message) == std::string::npos)
      return verdict::fail("an error message containing " + quote(expect_message),
                           got.error().message());
    return verdict::pass();
  }
  if (!got)
    return verdict::fail(expect.is_null() ? "success" : "a reply matching " + expect.to_string(),
                         "error " + code_of(got.error()) + ": " + got.error().message());
  if (expect.is_null())
    return verdict::pass();
  if (auto why = mismatch(expect, *got))
    return verdict::fail(expect.to_string(), *why + " (reply: " + got->to_string() + ")");
  return verdict::pass();
}

verdict check_value(const value& expect, const value& got) {
  if (expect.is_null())
    return verdict::pass();
  if (auto why = mismatch(expect, got))
    return verdict::fail(expect.to_string(), *why + " (" + got.to_string() + ")");
  return verdict::pass();
}

result<value> outcome(value_future& f, std::chrono::nanoseconds bound) {
  if (!f.wait_for(bound))
    return error{errc::timeout, "no outcome within the step's bound (" + ms_text(bound) + ")"};
  return f.get();
}

runner::runner(const config::scenario& s, runtime& rt, const run_options& options)
    : scenario_(s),
      rt_(rt),
      options_(options),
      inbox_(rt.subscribe({{}, {}, 65536})) {}

verdict runner::run(const config::scenario_step& step, std::uint64_t i) {
  return std::visit([&](const auto& s) { return run_resolved(s, i); }, step.action);
}

template <class Step>
verdict runner::run_resolved(const Step& s, std::uint64_t i) {
  // Expectations may use the placeholders requests use: `{i}`, `${actor.key}`.
  if constexpr (has_expect<Step>::value) {
    if (!s.expect.is_null()) {
      auto expect = resolve(s.expect, i);
      if (!expect)
        return verdict::fail("an expectation whose placeholders resolve", expect.error().message());
      auto resolved = s;
      resolved.expect = std::move(*expect);
      return perform(resolved, i);
    }
  }
  return perform(s, i);
}

result<value> runner::resolve(const value& fields, std::uint64_t i) {
  if (fields.is_null())
    return value{value::map{}};
  auto lookup = [&](const std::string& actor,
                    const std::string& key) -> std::optional<std::string> {
    if (actor == "scenario" && key == "dir")
      return scenario_dir(scenario_);
    return tools::announced_field(rt_, actor, key);
  };
  auto r = tools::resolve_actor_placeholders(fields, lookup);
  if (!r)
    return r;
  return tools::substitute_index(*r, i);
}

value_future runner::send(const config::step_request& r, const value& fields, std::uint64_t i,
                          std::chrono::nanoseconds timeout) {
  std::optional<context_scope> scope;
  if (r.context.is_map()) {
    auto ctx = context::current();
    auto resolved = resolve(r.context, i);
    if (resolved && resolved->is_map())
      for (auto& [k, v] : resolved->as_map())
        ctx = ctx.with(k, v);
    scope.emplace(std::move(ctx));
  }
  return rt_.route_from(r.to) ? tools::submit_pipeline_value(rt_, r.to, r.request, fields, timeout)
                              : tools::submit_value(rt_, r.to, r.request, fields, timeout);
}

result<value_future> runner::send_tracked(const config::step_request& r, std::uint64_t i,
                                          std::chrono::nanoseconds timeout) {
  auto fields = resolve(r.fields, i);
  if (!fields)
    return fields.error();
  auto f = send(r, *fields, i, timeout);
  track(f);
  return f;
}

void runner::track(const value_future& f) {
  std::lock_guard<std::mutex> guard{mutex_};
  all_.push_back(f);
}

} // namespace loopbridge::testing::detail
