// Reading CAF's binary format from untrusted bytes: sequence lengths checked against the bytes
// left and nesting bounded before anything is sized or recursed into.
#include "loopbridge/detail/wire_form.hpp"

#include <caf/sec.hpp>

namespace loopbridge::detail {

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
caf::error wire_reader::apply_impl(float& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(double& x) {
  return bytes_.apply(x);
}
caf::error wire_reader::apply_impl(long double& x) {
  return bytes_.apply(x);
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
