#pragma once

// Where the benchmarks find their baseline scripts and the programs they start. The paths are
// compiled into bench_paths.cpp alone (the small `loopbridge_bench_paths` library), so each
// benchmark's own translation unit compiles the same wherever the tree is checked out.

#include <string>

namespace loopbridge::bench {

/// The bench/ folder of the source tree (the baselines live in bench/baselines/).
std::string bench_dir();

/// The source tree's root, without a trailing slash.
std::string source_dir();

/// The `loopbridge` command built beside the benchmarks.
std::string cli_program();

} // namespace loopbridge::bench
