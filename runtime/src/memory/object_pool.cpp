// The object pool: fixed-size blocks for the runtime's bookkeeping (see memory/object_pool.hpp).
#include "memory/object_pool.hpp"

#include <cstdint>
#include <mutex>

#include <sys/mman.h>

namespace loopbridge::detail {

namespace {

constexpr std::size_t class_count = object_pool_largest / object_pool_granule;
static_assert(object_pool_largest % object_pool_granule == 0);
static_assert(object_pool_chunk % object_pool_largest == 0);

std::size_t class_index(std::size_t n) noexcept {
  return n == 0 ? 0 : (n - 1) / object_pool_granule;
}

/// An idle block's first bytes hold the next idle block of its class.
struct idle_block {
  idle_block* next;
};

/// Maps one chunk aligned to its size (so a huge page can back it whole), asking for huge
/// pages when `huge`; the kernel may decline, and then ordinary pages back it.
char* map_chunk(bool huge) {
  constexpr std::size_t span = 2 * object_pool_chunk;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::bad_alloc{};
  auto base = reinterpret_cast<std::uintptr_t>(p);
  auto aligned = (base + object_pool_chunk - 1) & ~(object_pool_chunk - 1);
  if (aligned > base)
    ::munmap(p, aligned - base);
  if (auto tail = base + span - (aligned + object_pool_chunk); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + object_pool_chunk), tail);
  if (huge)
    ::madvise(reinterpret_cast<void*>(aligned), object_pool_chunk, MADV_HUGEPAGE);
  return reinterpret_cast<char*>(aligned);
}

/// One size class: its idle blocks, and the rest of its newest chunk.
class size_class {
public:
  void* take(std::size_t size) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (auto* b = idle_) {
      idle_ = b->next;
      return b;
    }
    if (static_cast<std::size_t>(end_ - next_) < size) {
      next_ = map_chunk(chunks_ >= object_pool_plain_chunks);
      end_ = next_ + object_pool_chunk;
      ++chunks_;
    }
    void* b = next_;
    next_ += size;
    return b;
  }

  void give(void* p) noexcept {
    auto* b = static_cast<idle_block*>(p);
    std::lock_guard<std::mutex> guard{mutex_};
    b->next = idle_;
    idle_ = b;
  }

private:
  std::mutex mutex_;
  idle_block* idle_ = nullptr;
  char* next_ = nullptr;
  char* end_ = nullptr;
  std::size_t chunks_ = 0;
};

/// Each class on cache lines of its own, so threads allocating different sizes do not share
/// one.
struct alignas(64) padded_class {
  size_class pool;
};

/// Never destroyed: objects may be freed by static destructors that run after this file's.
padded_class* classes() {
  static auto* all = new padded_class[class_count];
  return all;
}

} // namespace

void* object_pool_allocate(std::size_t n) {
  if (!object_pool_active || n > object_pool_largest)
    return ::operator new(n);
  auto k = class_index(n);
  return classes()[k].pool.take((k + 1) * object_pool_granule);
}

void object_pool_free(void* p, std::size_t n) noexcept {
  if (p == nullptr)
    return;
  if (!object_pool_active || n > object_pool_largest) {
#ifdef __cpp_sized_deallocation
    ::operator delete(p, n); // AddressSanitizer checks the size against the allocation's
#else
    ::operator delete(p); // clang before 19 leaves sized deallocation off unless asked
#endif
    return;
  }
  classes()[class_index(n)].pool.give(p);
}

} // namespace loopbridge::detail
