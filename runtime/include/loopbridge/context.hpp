#pragma once

#include <map>
#include <memory>
#include <string>

#include "loopbridge/value.hpp"

namespace loopbridge {

/// Caller-set fields that travel with a request, like Python's contextvars.
///
/// Each thread has a *current* context. Submitting a request captures the submitting thread's
/// current context at that moment; the request carries that snapshot to the worker (and to
/// anything the worker offloads or submits in turn), so a later change on the submitting thread
/// never affects a request already submitted.
///
/// A context is an immutable value: copying is cheap (one shared pointer) and safe across
/// threads; `with()` returns a new context and leaves the original unchanged.
class context {
public:
  using fields = std::map<std::string, value, std::less<>>;

  context() = default;

  bool empty() const noexcept { return !fields_ || fields_->empty(); }
  /// The field under `key`, or nullptr.
  const value* find(std::string_view key) const;
  /// All fields (an empty map when there are none).
  const fields& all() const;
  /// A copy of this context with `key` set to `v`.
  context with(std::string key, value v) const;

  /// The calling thread's current context. While a worker handles a request, its thread's
  /// current context is that request's context, so nested submits inherit it.
  static const context& current() noexcept;
  /// Replaces the calling thread's current context.
  static void set_current(context c);
  /// Sets one field of the calling thread's current context.
  static void set(std::string key, value v);

  friend bool operator==(const context& a, const context& b) { return a.all() == b.all(); }

private:
  std::shared_ptr<const fields> fields_;
};

/// Makes `c` the calling thread's current context until the scope ends, then restores the
/// previous one. Not movable; use on one thread.
class context_scope {
public:
  explicit context_scope(context c) : previous_(context::current()) {
    context::set_current(std::move(c));
  }
  context_scope(const context_scope&) = delete;
  context_scope& operator=(const context_scope&) = delete;
  ~context_scope() { context::set_current(std::move(previous_)); }

private:
  context previous_;
};

} // namespace loopbridge
