// The byte pool: large payload blocks kept mapped between uses (see loopbridge/bytes.hpp).
#include "loopbridge/bytes.hpp"

#include <array>
#include <mutex>

#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define LOOPBRIDGE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOPBRIDGE_ASAN 1
#endif
#endif
#ifdef LOOPBRIDGE_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace loopbridge::detail {

namespace {

constexpr int min_shift = 16; // log2(byte_pool_min_block)
constexpr int max_shift = 26; // log2(byte_pool_max_block)
static_assert(byte_pool_min_block == std::size_t{1} << min_shift);
static_assert(byte_pool_max_block == std::size_t{1} << max_shift);
constexpr std::size_t class_count = (max_shift - min_shift) * 4 + 1;

/// A size class: four per doubling, 2^k · {1, 1.25, 1.5, 1.75}.
struct size_class {
  std::size_t index;
  std::size_t size;
};

int floor_log2(std::size_t n) noexcept {
  return 63 - __builtin_clzll(n);
}

size_class class_of(std::size_t n) noexcept {
  auto step = std::size_t{1} << (floor_log2(n) - 2);
  auto size = (n + step - 1) / step * step;
  auto k = floor_log2(size);
  auto quarter = size / (std::size_t{1} << (k - 2)) - 4; // 0..3
  return {static_cast<std::size_t>(k - min_shift) * 4 + quarter, size};
}

bool pooled(std::size_t n) noexcept {
  return n >= byte_pool_min_block && n <= byte_pool_max_block;
}

/// An idle block's first bytes hold the next idle block of its class.
struct idle_block {
  idle_block* next;
};

class byte_pool {
public:
  void* take(std::size_t n) {
    auto c = class_of(n);
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (auto* b = idle_[c.index]) {
        idle_[c.index] = b->next;
        idle_bytes_ -= c.size;
        --idle_blocks_;
        ++reused_;
        unpoison(b, c.size);
        return b;
      }
      ++mapped_;
    }
    void* p = ::mmap(nullptr, c.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::lock_guard<std::mutex> guard{mutex_};
      --mapped_;
      throw std::bad_alloc{};
    }
    return p;
  }

  void give(void* p, std::size_t n) noexcept {
    auto c = class_of(n);
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (idle_bytes_ + c.size <= byte_pool_idle_limit) {
        auto* b = static_cast<idle_block*>(p);
        b->next = idle_[c.index];
        idle_[c.index] = b;
        idle_bytes_ += c.size;
        ++idle_blocks_;
        poison(b, c.size);
        return;
      }
    }
    ::munmap(p, c.size);
  }

  byte_pool_usage usage() {
    std::lock_guard<std::mutex> guard{mutex_};
    return {idle_blocks_, idle_bytes_, mapped_, reused_};
  }

private:
  // Under AddressSanitizer an idle block is poisoned past its link, so a buffer used after it
  // was freed is reported as it would be with operator delete.
  static void poison([[maybe_unused]] idle_block* b, [[maybe_unused]] std::size_t size) noexcept {
#ifdef LOOPBRIDGE_ASAN
    ASAN_POISON_MEMORY_REGION(reinterpret_cast<char*>(b) + sizeof(idle_block),
                              size - sizeof(idle_block));
#endif
  }
  static void unpoison([[maybe_unused]] idle_block* b, [[maybe_unused]] std::size_t size) noexcept {
#ifdef LOOPBRIDGE_ASAN
    ASAN_UNPOISON_MEMORY_REGION(b, size);
#endif
  }

  std::mutex mutex_;
  std::array<idle_block*, class_count> idle_{};
  std::size_t idle_bytes_ = 0;
  std::size_t idle_blocks_ = 0;
  std::size_t mapped_ = 0;
  std::size_t reused_ = 0;
};

/// Never destroyed: buffers may be freed by static destructors that run after this file's.
byte_pool& pool() {
  static auto* p = new byte_pool;
  return *p;
}

} // namespace

void* byte_pool_allocate(std::size_t n) {
  if (!pooled(n))
    return ::operator new(n);
  return pool().take(n);
}

void byte_pool_free(void* p, std::size_t n) noexcept {
  if (p == nullptr)
    return;
  if (!pooled(n)) {
    ::operator delete(p);
    return;
  }
  pool().give(p, n);
}

byte_pool_usage byte_pool_usage_now() {
  return pool().usage();
}

} // namespace loopbridge::detail
