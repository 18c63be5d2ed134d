#pragma once

// Byte buffers for payloads (HTTP bodies, images, files): a std::vector whose large blocks come
// from a process-wide pool that keeps freed blocks mapped, so the next large body reuses memory
// whose pages are already there instead of faulting in fresh zeroed pages.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace loopbridge {

namespace detail {

/// The pool behind `byte_allocator`. Any thread may call; a block may be freed on another thread
/// than the one that took it. Blocks of at least `byte_pool_min_block` bytes up to
/// `byte_pool_max_block` are rounded up to a size class (four per doubling, so at most 25 % is
/// unused), mapped with their own pages and, when freed, kept for reuse while the idle blocks
/// hold at most `byte_pool_idle_limit` bytes; the rest go back to the system. Smaller and larger
/// blocks go to `operator new` / `operator delete`.
[[nodiscard]] void* byte_pool_allocate(std::size_t n);
void byte_pool_free(void* p, std::size_t n) noexcept;

inline constexpr std::size_t byte_pool_min_block = std::size_t{64} << 10;
inline constexpr std::size_t byte_pool_max_block = std::size_t{64} << 20;
inline constexpr std::size_t byte_pool_idle_limit = std::size_t{64} << 20;

/// What the pool holds now, for tests and benchmarks.
struct byte_pool_usage {
  std::size_t idle_blocks = 0;
  std::size_t idle_bytes = 0;
  std::size_t mapped_blocks = 0; ///< blocks mapped since the process started
  std::size_t reused_blocks = 0; ///< blocks handed out again from the idle ones
};
[[nodiscard]] byte_pool_usage byte_pool_usage_now();

} // namespace detail

/// A standard allocator over the byte pool (stateless: every instance is interchangeable).
template <class T>
struct byte_allocator {
  using value_type = T;

  byte_allocator() noexcept = default;
  template <class U>
  byte_allocator(const byte_allocator<U>&) noexcept {}

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length{};
    return static_cast<T*>(detail::byte_pool_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { detail::byte_pool_free(p, n * sizeof(T)); }

  template <class U>
  friend bool operator==(const byte_allocator&, const byte_allocator<U>&) noexcept {
    return true;
  }
  template <class U>
  friend bool operator!=(const byte_allocator&, const byte_allocator<U>&) noexcept {
    return false;
  }
};

/// The payload type of requests and replies that carry bytes. A std::vector in every respect but
/// its allocator: convert from and to other byte containers with their iterators
/// (`bytes{v.begin(), v.end()}`). Plain value type: not thread-safe; moving never copies.
using bytes = std::vector<std::uint8_t, byte_allocator<std::uint8_t>>;

/// Appends `n` bytes from `data` to `b` with one block copy. Prefer it to a range `insert` for
/// large copies: a vector with an allocator of its own copies a range element by element, which
/// the optimizer turns into a block copy at -O3 but not at -O2. Growth is geometric.
inline void append(bytes& b, const void* data, std::size_t n) {
  auto old = b.size();
  b.resize(old + n);
  if (n > 0)
    std::memcpy(b.data() + old, data, n);
}

/// Byte-wise comparison with a byte vector of the standard allocator (found by argument-dependent
/// lookup through the allocator's namespace).
inline bool operator==(const bytes& a, const std::vector<std::uint8_t>& b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
inline bool operator==(const std::vector<std::uint8_t>& a, const bytes& b) noexcept {
  return b == a;
}
inline bool operator!=(const bytes& a, const std::vector<std::uint8_t>& b) noexcept {
  return !(a == b);
}
inline bool operator!=(const std::vector<std::uint8_t>& a, const bytes& b) noexcept {
  return !(b == a);
}

} // namespace loopbridge
