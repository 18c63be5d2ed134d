#pragma once

#include <typeinfo>

namespace loopbridge::detail {

/// A process-wide identity for a C++ type, compared by address: cheaper than comparing
/// `std::type_info`, and available without RTTI lookups on the hot path.
struct type_tag {
  const std::type_info* info;
};

template <class T>
struct type_tag_holder {
  static const type_tag tag;
};

template <class T>
const type_tag type_tag_holder<T>::tag{&typeid(T)};

template <class T>
const type_tag* tag_of() noexcept {
  return &type_tag_holder<T>::tag;
}

} // namespace loopbridge::detail
