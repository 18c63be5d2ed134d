// A user's own `loopbridge`-style command: every subcommand (check, graph, schema, run,
// scenario) knows the greeter kind besides the built-in ones.
#include "greeter.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/cli/main.hpp"

int main(int argc, char** argv) {
  auto kinds = loopbridge::actors::builtin_kinds();
  kinds.add<greeter>("greets people");
  return loopbridge::cli::main(argc, argv, kinds);
}
