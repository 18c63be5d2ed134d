// The per-request `context`: its fields and the one current on each thread.
#include "loopbridge/context.hpp"

namespace loopbridge {

namespace {
thread_local context tl_current;
const context::fields empty_fields;
} // namespace

const value* context::find(std::string_view key) const {
  if (!fields_)
    return nullptr;
  auto it = fields_->find(key);
  return it == fields_->end() ? nullptr : &it->second;
}

const context::fields& context::all() const {
  return fields_ ? *fields_ : empty_fields;
}

context context::with(std::string key, value v) const {
  auto copy = std::make_shared<fields>(all());
  (*copy)[std::move(key)] = std::move(v);
  context result;
  result.fields_ = std::move(copy);
  return result;
}

const context& context::current() noexcept {
  return tl_current;
}

void context::set_current(context c) {
  tl_current = std::move(c);
}

void context::set(std::string key, value v) {
  tl_current = tl_current.with(std::move(key), std::move(v));
}

} // namespace loopbridge
