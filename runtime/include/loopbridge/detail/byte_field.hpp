#pragma once

#include <cstddef>
#include <type_traits>

#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace loopbridge::detail {

/// The next `n` bytes of what `f` reads, taken (`f` moves past them), when `f` reads from memory:
/// CAF's binary deserializer (messages between processes) or a `wire_reader`. Null when `f` reads
/// from anything else, or when fewer than `n` bytes are left (then `short_input` is set).
const char* take_in_place(caf::deserializer& f, std::size_t n, bool& short_input) noexcept;

/// A byte buffer (a `std::vector` of `char` or `std::uint8_t`) as a field of an `inspect`:
/// written exactly as CAF writes a byte vector (its length, then the bytes), but read with one
/// copy straight from the bytes being read, where CAF's own reading zero-fills the buffer to its
/// length and then copies over it — for a large body, twice the memory traffic. A length beyond
/// the bytes left is refused before anything is sized for it.
template <class Bytes>
struct byte_field {
  Bytes& bytes;

  template <class Inspector>
  friend auto inspect(Inspector& f, byte_field& x) {
    if constexpr (std::is_base_of_v<caf::deserializer, Inspector>)
      return x.load(f);
    else
      return f(x.bytes);
  }

private:
  caf::error load(caf::deserializer& f) {
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    bool short_input = false;
    if (auto* p = take_in_place(f, n, short_input)) {
      using byte = typename Bytes::value_type;
      bytes.assign(reinterpret_cast<const byte*>(p), reinterpret_cast<const byte*>(p) + n);
    } else if (short_input) {
      return caf::sec::end_of_stream;
    } else {
      bytes.resize(n);
      if (n > 0)
        if (auto err = f.apply_raw(n, bytes.data()))
          return err;
    }
    return f.end_sequence();
  }
};

template <class Bytes>
byte_field(Bytes&) -> byte_field<Bytes>;

} // namespace loopbridge::detail
