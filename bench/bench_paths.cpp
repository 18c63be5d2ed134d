#include "bench_paths.hpp"

namespace loopbridge::bench {

std::string bench_dir() {
  return LOOPBRIDGE_SOURCE_DIR "/bench";
}

std::string source_dir() {
  return LOOPBRIDGE_SOURCE_DIR;
}

std::string cli_program() {
  return LOOPBRIDGE_CLI;
}

} // namespace loopbridge::bench
