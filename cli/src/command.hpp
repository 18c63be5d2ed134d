#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "loopbridge/kind_registry.hpp"

namespace loopbridge::cli {

/// Exit codes of the `loopbridge` command (documented in `loopbridge --help`).
enum exit_code : int {
  exit_ok = 0,     ///< success: the file is valid / every request succeeded
  exit_failed = 1, ///< the file has problems / some requests failed
  exit_usage = 2,  ///< bad arguments, or the topology could not be used
  exit_interrupted = 130,
};

/// What every subcommand gets besides its arguments.
struct command_env {
  std::string program;        ///< the command's name as the user typed it (argv[0]'s last part)
  const kind_registry& kinds; ///< the kinds topologies and scenarios may use
};

/// One subcommand: `args` excludes the program and subcommand names. Output goes to stdout,
/// errors to stderr; returns the exit code.
using command_fn = int (*)(const std::vector<std::string>& args, const command_env& env);

int check_command(const std::vector<std::string>& args, const command_env& env);
int graph_command(const std::vector<std::string>& args, const command_env& env);
int schema_command(const std::vector<std::string>& args, const command_env& env);
int run_command(const std::vector<std::string>& args, const command_env& env);
int demo_command(const std::vector<std::string>& args, const command_env& env);
int node_command(const std::vector<std::string>& args, const command_env& env);
int scenario_command(const std::vector<std::string>& args, const command_env& env);

/// Prints `text`, a usage text written for the `loopbridge` program, naming `env.program`
/// instead.
void print_usage(std::FILE* to, const char* text, const command_env& env);

/// True if `args` asks for help (`-h`, `--help`).
bool wants_help(const std::vector<std::string>& args);

} // namespace loopbridge::cli
