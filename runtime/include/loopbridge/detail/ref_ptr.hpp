#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace loopbridge::detail {

/// Base for objects shared between threads by intrusive reference counting. The count is atomic;
/// the object is deleted (through its virtual destructor) when the last reference goes.
class ref_counted {
public:
  ref_counted() = default;
  ref_counted(const ref_counted&) = delete;
  ref_counted& operator=(const ref_counted&) = delete;
  virtual ~ref_counted() = default;

  void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() const noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete this;
  }

private:
  mutable std::atomic<std::uint32_t> refs_{1};
};

/// An owning pointer to a `ref_counted` object. Copying adds a reference; the pointee's count is
/// thread-safe, the ref_ptr object itself is not (like std::shared_ptr).
template <class T>
class ref_ptr {
public:
  ref_ptr() noexcept = default;
  /// Adopts one reference that the caller already owns (a freshly made object has one).
  static ref_ptr adopt(T* p) noexcept {
    ref_ptr r;
    r.ptr_ = p;
    return r;
  }
  /// Shares `p`, adding a reference.
  static ref_ptr share(T* p) noexcept {
    if (p)
      p->add_ref();
    return adopt(p);
  }
  ref_ptr(const ref_ptr& other) noexcept : ptr_(other.ptr_) {
    if (ptr_)
      ptr_->add_ref();
  }
  ref_ptr(ref_ptr&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  template <class U>
  ref_ptr(ref_ptr<U> other) noexcept : ptr_(other.detach()) {}
  ref_ptr& operator=(ref_ptr other) noexcept {
    std::swap(ptr_, other.ptr_);
    return *this;
  }
  ~ref_ptr() {
    if (ptr_)
      ptr_->release();
  }

  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  T& operator*() const noexcept { return *ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  /// Gives up ownership without releasing the reference.
  T* detach() noexcept { return std::exchange(ptr_, nullptr); }
  void reset() noexcept { ref_ptr{}.swap(*this); }
  void swap(ref_ptr& other) noexcept { std::swap(ptr_, other.ptr_); }

private:
  T* ptr_ = nullptr;
};

template <class T, class... Ts>
ref_ptr<T> make_ref(Ts&&... xs) {
  return ref_ptr<T>::adopt(new T(std::forward<Ts>(xs)...));
}

} // namespace loopbridge::detail
