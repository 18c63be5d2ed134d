// A body written by CAF's serializer in place: the length first as a varbyte of fixed width,
// filled in once the body behind it is written.
#include "nodes/wire_body.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include <caf/binary_serializer.hpp>
#include <caf/detail/serialized_size.hpp>
#include <caf/sec.hpp>

#include "loopbridge/detail/wire_form.hpp"

namespace loopbridge::detail {

namespace {

/// Counts what a write would produce, refusing what it would refuse (see `wire_processor`).
using wire_measurer = wire_processor<caf::serializer, caf::detail::serialized_size_inspector>;

/// A sequence length as CAF's varbyte (seven bits per byte, low first, the high bit set on every
/// byte but the last), always five bytes long: CAF writes the shortest form, and its reader (the
/// only one there is) accepts any.
constexpr std::size_t fixed_length_size = 5;

void put_fixed_length(std::uint32_t n, std::uint8_t (&out)[fixed_length_size]) {
  for (std::size_t i = 0; i < fixed_length_size; ++i) {
    out[i] = static_cast<std::uint8_t>(n & 0x7f);
    if (i + 1 < fixed_length_size)
      out[i] |= 0x80;
    n >>= 7;
  }
}

} // namespace

result<void> wire_body::refer(request_ref st, save_fn save) {
  wire_measurer measure{};
  if (auto err = save(*st, measure))
    return error{errc::bad_request,
                 measure.problem().empty() ? "cannot be written" : measure.problem()};
  auto size = measure.inner().result();
  if (size > std::numeric_limits<std::uint32_t>::max()) // CAF's lengths are 32 bits
    return error{errc::bad_request, "a body of " + std::to_string(size) +
                                        " bytes is more than a message between processes holds"};
  size_ = size;
  source_ = std::move(st);
  save_ = save;
  bytes_.clear();
  return {};
}

const std::vector<char>& wire_body::bytes() {
  if (source_) {
    (void)write(bytes_); // checked by `refer`
    source_.reset();
  }
  return bytes_;
}

caf::error wire_body::write(std::vector<char>& out) const {
  wire_writer sink{out};
  return save_(*source_, sink);
}

caf::error wire_body::save(caf::serializer& f) const {
  if (!source_)
    return f(const_cast<std::vector<char>&>(bytes_));
  auto* out = dynamic_cast<caf::binary_serializer*>(&f);
  if (out == nullptr) { // another serializer: through bytes written here
    std::vector<char> written;
    if (auto err = write(written))
      return err;
    return f(written);
  }
  auto at = out->write_pos();
  std::uint8_t length[fixed_length_size] = {};
  if (auto err = out->apply_raw(fixed_length_size, length))
    return err;
  if (auto err = save_(*source_, *out))
    return err;
  auto end = out->write_pos();
  // Below 4 GiB: `refer` refused larger bodies.
  put_fixed_length(static_cast<std::uint32_t>(end - at - fixed_length_size), length);
  out->seek(at);
  auto err = out->apply_raw(fixed_length_size, length);
  out->seek(end);
  return err;
}

} // namespace loopbridge::detail
