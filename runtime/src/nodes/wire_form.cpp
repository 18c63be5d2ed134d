// The wire form: CAF's binary format written without the values CAF cannot write (numbers that
// are not finite), and read from untrusted bytes with sequence lengths checked against the
// bytes left and nesting bounded before anything is sized or recursed into.
#include "loopbridge/detail/wire_form.hpp"

#include <cmath>

#include <caf/sec.hpp>

namespace loopbridge::detail {

// -- writing ----------------------------------------------------------------------------------

wire_writer::wire_writer(std::vector<char>& out)
    : caf::serializer(static_cast<caf::execution_unit*>(nullptr)),
      bytes_(nullptr, out) {}

caf::error wire_writer::begin_object(std::uint16_t& typenr, std::string& name) {
  return bytes_.begin_object(typenr, name);
}
caf::error wire_writer::end_object() {
  return bytes_.end_object();
}
caf::error wire_writer::begin_sequence(std::size_t& num) {
  return bytes_.begin_sequence(num);
}
caf::error wire_writer::end_sequence() {
  return bytes_.end_sequence();
}
caf::error wire_writer::apply_raw(std::size_t num_bytes, void* data) {
  return bytes_.apply_raw(num_bytes, data);
}
caf::error wire_writer::apply_impl(std::int8_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::uint8_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::int16_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::uint16_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::int32_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::uint32_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::int64_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::uint64_t& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(float& x) {
  if (!std::isfinite(x)) {
    problem_ = "a number that is not finite (" + std::to_string(x) + ") has no wire form";
    return caf::sec::invalid_argument;
  }
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(double& x) {
  if (!std::isfinite(x)) {
    problem_ = "a number that is not finite (" + std::to_string(x) + ") has no wire form";
    return caf::sec::invalid_argument;
  }
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(long double& x) {
  if (!std::isfinite(x)) {
    problem_ = "a number that is not finite has no wire form";
    return caf::sec::invalid_argument;
  }
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::string& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::u16string& x) {
  return bytes_.apply(x);
}
caf::error wire_writer::apply_impl(std::u32string& x) {
  return bytes_.apply(x);
}

// -- reading ----------------------------------------------------------------------------------

wire_reader::wire_reader(const char* data, std::size_t size)
    : caf::deserializer(static_cast<caf::execution_unit*>(nullptr)),
      bytes_(nullptr, data, size) {}

caf::error wire_reader::refuse(std::string why) {
  problem_ = "malformed: " + std::move(why);
  return caf::sec::invalid_argument;
}

caf::error wire_reader::begin_object(std::uint16_t& typenr, std::string& name) {
  return bytes_.begin_object(typenr, name);
}

caf::error wire_reader::end_object() {
  return bytes_.end_object();
}

caf::error wire_reader::begin_sequence(std::size_t& num) {
  if (auto err = bytes_.begin_sequence(num))
    return err;
  // Every element takes at least one bit (booleans are packed eight to a byte); elements with
  // no fields at all have no place in requests and replies.
  if (num / 8 > bytes_.remaining())
    return refuse("a sequence of " + std::to_string(num) + " elements in " +
                  std::to_string(bytes_.remaining()) + " remaining bytes");
  if (++depth_ > max_depth)
    return refuse("sequences nested deeper than " + std::to_string(max_depth) + " levels");
  return {};
}

caf::error wire_reader::end_sequence() {
  --depth_;
  return bytes_.end_sequence();
}

caf::error wire_reader::apply_raw(std::size_t num_bytes, void* data) {
  return bytes_.apply_raw(num_bytes, data);
}

caf::error wire_reader::apply_impl(std::int8_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::uint8_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::int16_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::uint16_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::int32_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::uint32_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::int64_t& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::uint64_t& x) {
  return bytes_.apply(x);
}
template <class F>
caf::error wire_reader::finite(F& x) {
  if (auto err = bytes_.apply(x))
    return err;
  if (!std::isfinite(x))
    return refuse("a number that is not finite");
  return {};
}
caf::error wire_reader::apply_impl(float& x) {
  return finite(x);
}
caf::error wire_reader::apply_impl(double& x) {
  return finite(x);
}
caf::error wire_reader::apply_impl(long double& x) {
  return finite(x);
}
caf::error wire_reader::apply_impl(std::string& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(std::u16string& x) {
  std::size_t n = 0;
  if (auto err = begin_sequence(n)) // checked like any sequence, then read as CAF reads it
    return err;
  x.clear();
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t c = 0;
    if (auto err = bytes_.apply(c))
      return err;
    x.push_back(static_cast<char16_t>(c));
  }
  return end_sequence();
}
caf::error wire_reader::apply_impl(std::u32string& x) {
  std::size_t n = 0;
  if (auto err = begin_sequence(n))
    return err;
  x.clear();
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t c = 0;
    if (auto err = bytes_.apply(c))
      return err;
    x.push_back(static_cast<char32_t>(c));
  }
  return end_sequence();
}

} // namespace loopbridge::detail
