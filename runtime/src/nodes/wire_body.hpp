#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/serializer.hpp>

#include "loopbridge/detail/byte_field.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge::detail {

/// A request's or reply's wire form inside a node message (`node_call`, `node_answer`); it
/// crosses as a byte sequence (its length, then its bytes), as a `std::vector<char>` would.
///
/// The receiving side holds the bytes. The sending side holds the request state instead, and
/// CAF's serializer writes its request or reply straight into the outgoing message's buffer when
/// CAF sends the message: no copy of the body is made first, one copy of it less per message. What
/// is written is checked when the state is referred to (`refer`), so writing it later cannot fail;
/// the request or reply must not change afterwards (a request's does not once submitted, nor a
/// reply once it resolved).
///
/// Plain value type; not thread-safe. CAF may write one message from another thread than the
/// one that made it: `inspect` only reads.
class wire_body {
public:
  /// Writes `st`'s request or reply through `f` (a kind's `request_entry::save_request` or
  /// `save_reply`).
  using save_fn = caf::error (*)(request_state& st, caf::serializer& f);

  wire_body() = default;
  explicit wire_body(std::vector<char> bytes) : bytes_(std::move(bytes)) {}

  /// The sending side: the body is what `save` writes of `st`. `loop.bad_request` saying why
  /// when it cannot be written (a number that is not finite, a reply that is missing, 4 GiB or
  /// more); the body is then unchanged.
  result<void> refer(request_ref st, save_fn save);

  /// The wire form's size in bytes.
  std::size_t size() const noexcept { return source_ ? size_ : bytes_.size(); }

  /// The bytes: the receiving side's; on the sending side (a message that never left its
  /// process), written now.
  const std::vector<char>& bytes();

  template <class Inspector>
  friend auto inspect(Inspector& f, wire_body& x) {
    if constexpr (std::is_same_v<Inspector, caf::serializer>) {
      return x.save(f);
    } else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
      x.source_.reset();
      return f(byte_field{x.bytes_});
    } else {
      return f(x.bytes_); // printing: the bytes, when there are any
    }
  }

private:
  caf::error save(caf::serializer& f) const;
  /// Appends the wire form of the sending side's state to `out`.
  caf::error write(std::vector<char>& out) const;

  std::vector<char> bytes_;
  request_ref source_; ///< the sending side's state; null on the receiving side
  save_fn save_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace loopbridge::detail
