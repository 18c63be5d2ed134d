#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

#include "loopbridge/error.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge::detail {

/// A CAF data processor (`Base`: `caf::serializer` or `caf::deserializer`) that hands every
/// call to `Inner`, CAF's binary one, except numbers that are not finite: CAF 0.17's IEEE 754
/// packing never returns for an infinite float or double and turns NaN into an arbitrary
/// number, so writing refuses them, and reading refuses bytes that unpack to one. One per
/// message; not thread-safe.
template <class Base, class Inner>
class wire_processor : public Base {
public:
  template <class... Ts>
  explicit wire_processor(Ts&&... xs)
      : Base(static_cast<caf::execution_unit*>(nullptr)),
        inner_(nullptr, std::forward<Ts>(xs)...) {}

  /// What stopped the last call, in words (empty while nothing did).
  const std::string& problem() const noexcept { return problem_; }
  /// The processor every call goes to.
  Inner& inner() noexcept { return inner_; }

  caf::error begin_object(std::uint16_t& typenr, std::string& name) override {
    return inner_.begin_object(typenr, name);
  }
  caf::error end_object() override { return inner_.end_object(); }
  caf::error begin_sequence(std::size_t& num) override { return inner_.begin_sequence(num); }
  caf::error end_sequence() override { return inner_.end_sequence(); }
  caf::error apply_raw(std::size_t num_bytes, void* data) override {
    return inner_.apply_raw(num_bytes, data);
  }

protected:
  caf::error apply_impl(std::int8_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::uint8_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::int16_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::uint16_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::int32_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::uint32_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::int64_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::uint64_t& x) override { return inner_.apply(x); }
  caf::error apply_impl(float& x) override { return number(x); }
  caf::error apply_impl(double& x) override { return number(x); }
  caf::error apply_impl(long double& x) override { return number(x); }
  caf::error apply_impl(std::string& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::u16string& x) override { return inner_.apply(x); }
  caf::error apply_impl(std::u32string& x) override { return inner_.apply(x); }

  caf::error refuse(std::string why) {
    problem_ = std::move(why);
    return caf::sec::invalid_argument;
  }

  Inner inner_;

private:
  template <class F>
  caf::error number(F& x) {
    if constexpr (Base::reads_state) { // writing
      if (!std::isfinite(x))
        return refuse("a number that is not finite (" + std::to_string(x) + ") has no wire form");
      return inner_.apply(x);
    } else {
      if (auto err = inner_.apply(x))
        return err;
      return std::isfinite(x) ? caf::error{} : refuse("malformed: a number that is not finite");
    }
  }

  std::string problem_;
};

/// Writes values in CAF's binary format (see `wire_processor`).
using wire_writer = wire_processor<caf::serializer, caf::binary_serializer>;

/// Reads values in CAF's binary format from bytes that may come from anyone: besides numbers
/// that are not finite, it refuses a sequence longer than the bytes that follow could hold
/// before anything is sized for it (CAF resizes a byte sequence to the length on the wire, up
/// to 4 GiB, before it checks), and sequences nested deeper than `max_depth` (a value holding
/// lists of lists recurses once per level).
class wire_reader final : public wire_processor<caf::deserializer, caf::binary_deserializer> {
public:
  static constexpr int max_depth = 32;

  wire_reader(const char* data, std::size_t size) : wire_processor(data, size) {}

  std::size_t remaining() const noexcept { return inner_.remaining(); }
  /// The bytes being read (for `take_in_place`).
  caf::binary_deserializer& memory() noexcept { return inner_; }

  caf::error begin_sequence(std::size_t& num) override;
  caf::error end_sequence() override;

private:
  int depth_ = 0;
};

/// Appends `x` in CAF's binary format, through its `inspect`. `loop.bad_request` saying why if
/// a field cannot be written (a number that is not finite); the output is then incomplete.
template <class T>
result<void> wire_encode(T& x, std::vector<char>& out) {
  wire_writer sink{out};
  if (!sink(x))
    return {};
  return error{errc::bad_request, sink.problem().empty() ? "cannot be written" : sink.problem()};
}

/// Reads exactly one `T` from `data` (nothing may be left over). On failure `loop.bad_request`
/// saying why; `x` is then unspecified but valid. Never throws on malformed bytes.
template <class T>
result<void> wire_decode(T& x, const char* data, std::size_t size) {
  wire_reader source{data, size};
  bool ok = false;
  try {
    ok = !source(x);
  } catch (const std::exception& e) {
    return error{errc::bad_request, std::string{"malformed: "} + e.what()};
  }
  if (!ok)
    return error{errc::bad_request,
                 source.problem().empty() ? "malformed: the bytes end early" : source.problem()};
  if (source.remaining() != 0)
    return error{errc::bad_request,
                 "malformed: " + std::to_string(source.remaining()) + " bytes left over"};
  return {};
}

} // namespace loopbridge::detail
