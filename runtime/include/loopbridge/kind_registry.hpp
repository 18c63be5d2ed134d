#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loopbridge/kind.hpp"
#include "loopbridge/result.hpp"

namespace loopbridge {

/// The actor kinds a runtime can spawn, by name. Built once before the runtime starts
/// (`add`), then shared read-only: lookups are thread-safe, `add` is not.
class kind_registry {
public:
  /// Registers `Kind` (see `describe_kind`). A second kind of the same name replaces the first.
  template <class Kind>
  kind_registry& add(std::string doc = {}) {
    return add(describe_kind<Kind>(std::move(doc)));
  }
  kind_registry& add(kind_descriptor d);

  /// The kind named `name`, or nullptr.
  const kind_descriptor* find(std::string_view name) const;
  /// All kind names, sorted.
  std::vector<std::string> names() const;

private:
  std::map<std::string, std::shared_ptr<const kind_descriptor>, std::less<>> kinds_;
};

} // namespace loopbridge
