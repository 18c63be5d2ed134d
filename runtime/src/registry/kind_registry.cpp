// `kind_registry`: registering kinds and adapters, and finding them.
#include "loopbridge/kind_registry.hpp"

#include <cstdlib>
#include <cxxabi.h>
#include <memory>

namespace loopbridge {

namespace detail {

std::string readable_type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name{
      abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free};
  return status == 0 && name ? std::string{name.get()} : std::string{t.name()};
}

} // namespace detail

kind_registry& kind_registry::add(kind_descriptor d) {
  auto name = d.name;
  kinds_[name] = std::make_shared<const kind_descriptor>(std::move(d));
  return *this;
}

const kind_descriptor* kind_registry::find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

const adapter_entry* kind_registry::find_adapter(const detail::type_tag* from,
                                                 const kind_descriptor& to_kind) const {
  for (auto& a : adapters_)
    if (a.from == from && to_kind.find_request(a.to))
      return &a;
  return nullptr;
}

std::vector<std::string> kind_registry::names() const {
  std::vector<std::string> out;
  for (auto& [name, _] : kinds_)
    out.push_back(name);
  return out;
}

} // namespace loopbridge
