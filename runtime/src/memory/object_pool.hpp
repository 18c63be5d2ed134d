#pragma once

// The object pool: memory for the runtime's bookkeeping of each actor and instance (records,
// the loop's slots, lanes, instance hosts, the name table's entries) and for the CAF actors of
// scheduled instances.

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define LOOPBRIDGE_OBJECT_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOPBRIDGE_OBJECT_POOL_ASAN 1
#endif
#endif

namespace loopbridge::detail {

/// Blocks of up to `object_pool_largest` bytes, in size classes of `object_pool_granule` bytes,
/// carved from chunks of `object_pool_chunk` bytes mapped for the process and never returned to
/// the system: a freed block waits in its class for the next object of that size, so memory
/// follows the most objects alive at once. A class's chunks past its first
/// `object_pool_plain_chunks` are mapped with transparent huge pages (where the kernel grants
/// them): spawning a million actors then faults in a few hundred pages instead of a few hundred
/// thousand, which on a virtual machine is most of an actor's start, while a runtime of a few
/// thousand actors keeps ordinary pages and holds no partly used huge page. Larger requests go
/// to `operator new`, and so does every request under AddressSanitizer, which then checks these
/// objects as it checks any other.
///
/// Any thread may allocate, and a block may be freed on another thread than the one that took
/// it; each class has its own lock, held for a few instructions (and for mapping a chunk).
/// Blocks are aligned to `object_pool_granule`.
[[nodiscard]] void* object_pool_allocate(std::size_t n);
/// Gives back a block `object_pool_allocate(n)` returned, with the same `n`.
void object_pool_free(void* p, std::size_t n) noexcept;

/// A cache line: two objects written by different threads (two lanes' locks, two actors'
/// counters) never share one.
inline constexpr std::size_t object_pool_granule = 64;
inline constexpr std::size_t object_pool_largest = 2048;
inline constexpr std::size_t object_pool_chunk = std::size_t{2} << 20;
/// Chunks of a class mapped with ordinary pages before its chunks ask for huge pages (8 MiB:
/// the records of about 16k actors).
inline constexpr std::size_t object_pool_plain_chunks = 4;
/// Whether blocks come from the pool in this build (not under AddressSanitizer).
#ifdef LOOPBRIDGE_OBJECT_POOL_ASAN
inline constexpr bool object_pool_active = false;
#else
inline constexpr bool object_pool_active = true;
#endif

/// A standard allocator over the object pool (stateless), for `std::allocate_shared` and
/// node-based containers; a container's arrays larger than `object_pool_largest` go to
/// `operator new` as usual.
template <class T>
struct pooled_allocator {
  using value_type = T;
  static_assert(alignof(T) <= object_pool_granule, "a pooled object fits the pool's alignment");

  pooled_allocator() noexcept = default;
  template <class U>
  pooled_allocator(const pooled_allocator<U>&) noexcept {}

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length{};
    return static_cast<T*>(object_pool_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { object_pool_free(p, n * sizeof(T)); }

  template <class U>
  friend bool operator==(const pooled_allocator&, const pooled_allocator<U>&) noexcept {
    return true;
  }
  template <class U>
  friend bool operator!=(const pooled_allocator&, const pooled_allocator<U>&) noexcept {
    return false;
  }
};

/// `std::make_shared` with the object and its control block in one block of the pool.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(pooled_allocator<std::remove_const_t<T>>{},
                                 std::forward<Args>(args)...);
}

/// A base that makes `new` and `delete` of the derived class use the object pool (for objects
/// owned through `std::unique_ptr` or raw pointers).
struct pooled {
  static void* operator new(std::size_t n) { return object_pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { object_pool_free(p, n); }
};

} // namespace loopbridge::detail
