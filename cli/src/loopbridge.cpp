// The `loopbridge` program: the command line with the built-in kinds.
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/cli/main.hpp"

int main(int argc, char** argv) {
  return loopbridge::cli::main(argc, argv, loopbridge::actors::builtin_kinds());
}
