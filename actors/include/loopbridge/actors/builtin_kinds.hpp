#pragma once

#include "loopbridge/kind_registry.hpp"

namespace loopbridge::actors {

/// Registers every built-in actor kind (echo, ...) in `registry`.
/// Threads: like `kind_registry::add`, before the registry is shared (not thread-safe); the
/// kinds' own headers say where their workers run.
kind_registry& register_builtin_kinds(kind_registry& registry);

/// A registry holding the built-in kinds.
kind_registry builtin_kinds();

} // namespace loopbridge::actors
