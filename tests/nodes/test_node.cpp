// `loopbridge_test_node`: the command line with the built-in kinds and the nodes tests' own
// (`asker`), as a user's program would build it, so a test can run a node with a user kind.
#include "loopbridge/cli/main.hpp"
#include "nodes/asker.hpp"

int main(int argc, char** argv) {
  return loopbridge::cli::main(argc, argv, lbtest::node_test_kinds());
}
