#pragma once

// Where the tests find the source tree and the programs they start. The paths are compiled into
// one small translation unit (paths.cpp) only, so every other test file compiles the same
// wherever the tree is checked out, and ccache serves it from any clone.

#include <string>

namespace lbtest {

/// The source tree's root, without a trailing slash.
std::string source_dir();

/// The `loopbridge` command built beside the tests.
std::string cli_program();

/// The node program with a user kind (tests/nodes/test_node.cpp) built beside the tests.
std::string test_node_program();

} // namespace lbtest
