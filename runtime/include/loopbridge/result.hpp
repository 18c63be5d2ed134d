#pragma once

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "loopbridge/error.hpp"

namespace loopbridge {

/// Thrown by `result::value()` when the result holds an error: the escape hatch for host code
/// that prefers exceptions. The runtime itself never throws it across an actor boundary.
class error_exception : public std::runtime_error {
public:
  explicit error_exception(loopbridge::error e)
      : std::runtime_error(e.to_string()),
        error_(std::move(e)) {}
  const loopbridge::error& error() const noexcept { return error_; }

private:
  loopbridge::error error_;
};

/// Either a value of type `T` or an `error`. Plain value type: not thread-safe, copyable when
/// `T` is.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
  result(loopbridge::error e) : storage_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws `error_exception` if this holds an error.
  T& value() & {
    check();
    return std::get<0>(storage_);
  }
  const T& value() const& {
    check();
    return std::get<0>(storage_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(storage_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The error; must only be called when `!ok()`.
  const loopbridge::error& error() const& { return std::get<1>(storage_); }
  loopbridge::error&& error() && { return std::get<1>(std::move(storage_)); }

  /// True if this holds an error of the given kind.
  bool is(error_code kind) const noexcept { return !ok() && error().is(kind); }

private:
  void check() const {
    if (!ok())
      throw error_exception(std::get<1>(storage_));
  }
  std::variant<T, loopbridge::error> storage_;
};

/// A result without a value: success or an error.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(loopbridge::error e) : error_(std::move(e)), ok_(false) {}

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// Throws `error_exception` if this holds an error.
  void value() const {
    if (!ok_)
      throw error_exception(error_);
  }
  const loopbridge::error& error() const& { return error_; }
  bool is(error_code kind) const noexcept { return !ok_ && error_.is(kind); }

private:
  loopbridge::error error_;
  bool ok_ = true;
};

} // namespace loopbridge
