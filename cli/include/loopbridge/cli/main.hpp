#pragma once

#include "loopbridge/kind_registry.hpp"

namespace loopbridge::cli {

/// The `loopbridge` command, knowing the kinds in `kinds`: an application gets its own command
/// with every subcommand (`check`, `graph`, `schema`, `run`, `scenario`, `demo`) by calling this
/// from its `main`:
///
///     int main(int argc, char** argv) {
///       auto kinds = loopbridge::actors::builtin_kinds(); // keep the built-in kinds
///       kinds.add<greeter>("greets people");               // and add the application's own
///       return loopbridge::cli::main(argc, argv, kinds);
///     }
///
/// `kinds` is exactly what topologies, scenarios and `schema` may use (start from
/// `actors::builtin_kinds()` to keep the built-in ones; `demo` needs them). Usage text names the
/// program as `argv[0]` does. Prints to stdout and stderr; returns the exit code (0 success,
/// 1 problems found or requests failed, 2 bad arguments or an unusable topology, 130
/// interrupted). Call it once, from the main thread: `run`, `demo` and `scenario` start a
/// runtime and handle SIGINT while they run.
int main(int argc, char** argv, const kind_registry& kinds);

} // namespace loopbridge::cli
