#include "support/paths.hpp"

namespace lbtest {

std::string source_dir() {
  return LOOPBRIDGE_SOURCE_DIR;
}

std::string cli_program() {
  return LOOPBRIDGE_CLI;
}

std::string test_node_program() {
  return LOOPBRIDGE_TEST_NODE;
}

} // namespace lbtest
