// Reading the wire form from untrusted bytes: sequence lengths checked against the bytes left,
// and nesting bounded, before anything is sized or recursed into.
#include "loopbridge/detail/wire_form.hpp"

#include "loopbridge/detail/byte_field.hpp"

namespace loopbridge::detail {

caf::error wire_reader::begin_sequence(std::size_t& num) {
  if (auto err = inner_.begin_sequence(num))
    return err;
  // Every element takes at least one bit (booleans are packed eight to a byte); elements with
  // no fields at all have no place in requests and replies.
  if (num / 8 > inner_.remaining())
    return refuse("malformed: a sequence of " + std::to_string(num) + " elements in " +
                  std::to_string(inner_.remaining()) + " remaining bytes");
  if (++depth_ > max_depth)
    return refuse("malformed: sequences nested deeper than " + std::to_string(max_depth) +
                  " levels");
  return {};
}

caf::error wire_reader::end_sequence() {
  --depth_;
  return inner_.end_sequence();
}

const char* take_in_place(caf::deserializer& f, std::size_t n, bool& short_input) noexcept {
  caf::binary_deserializer* source = nullptr;
  if (auto* reader = dynamic_cast<wire_reader*>(&f))
    source = &reader->memory();
  else
    source = dynamic_cast<caf::binary_deserializer*>(&f);
  if (source == nullptr)
    return nullptr;
  if (n > source->remaining()) {
    short_input = true;
    return nullptr;
  }
  auto* p = reinterpret_cast<const char*>(source->remainder().data());
  source->skip(n);
  return p;
}

} // namespace loopbridge::detail
