#include "loopbridge/kind_registry.hpp"

namespace loopbridge {

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
