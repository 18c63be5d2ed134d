#pragma once

#include <string>
#include <vector>

namespace loopbridge::cli {

/// Exit codes of the `loopbridge` command (documented in `loopbridge --help`).
enum exit_code : int {
  exit_ok = 0,     ///< success: the file is valid / every request succeeded
  exit_failed = 1, ///< the file has problems / some requests failed
  exit_usage = 2,  ///< bad arguments, or the topology could not be used
  exit_interrupted = 130,
};

/// One subcommand: `args` excludes the program and subcommand names. Output goes to stdout,
/// errors to stderr; returns the exit code.
using command_fn = int (*)(const std::vector<std::string>& args);

int check_command(const std::vector<std::string>& args);
int graph_command(const std::vector<std::string>& args);
int schema_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);
int demo_command(const std::vector<std::string>& args);
int scenario_command(const std::vector<std::string>& args);

/// True if `args` asks for help (`-h`, `--help`).
bool wants_help(const std::vector<std::string>& args);

} // namespace loopbridge::cli
