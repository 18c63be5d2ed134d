#include <cstdio>
#include <string>

#include "command.hpp"
#include "run_flags.hpp"
#include "topology_runner.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

namespace {

const char* run_usage_head = R"(usage: loopbridge run [options] TOPOLOGY

Starts the topology file's actors, drives the workload it declares, stops, and prints a summary:
throughput, latency percentiles per stage, errors by code, restarts, cancelled requests. While it
runs, a live progress line (a terminal) or a plain line every 2 s (a pipe, a log).

Ctrl-C stops sending and shuts down gracefully within the shutdown budget, then prints the
summary; a second Ctrl-C cancels everything and exits with 130 at once.

Options:
)";

const char* run_usage_tail = R"(
Exit codes: 0 every request succeeded, 1 some failed, 2 bad arguments or a topology that is
invalid, cannot start or has no workload, 130 interrupted.
)";

void print_run_usage(std::FILE* to, const command_env& env) {
  print_usage(to, (std::string{run_usage_head} + run_flags_usage + run_usage_tail).c_str(), env);
}

} // namespace

int run_command(const std::vector<std::string>& args, const command_env& env) {
  block_interrupts(); // before any thread exists (libvips starts some while making images)
  if (wants_help(args)) {
    print_run_usage(stdout, env);
    return exit_ok;
  }
  run_flags flags;
  std::string file;
  flag_reader r{args};
  while (r.next() && r.error().empty()) {
    if (read_run_flag(r, flags))
      continue;
    if (r.is_flag())
      r.fail("unknown option " + quote(r.arg()));
    else if (!file.empty())
      r.fail("one topology file at a time (got " + quote(file) + " and " + quote(r.arg()) + ")");
    else
      file = r.arg();
  }
  if (r.error().empty() && file.empty())
    r.fail("missing the topology file");
  if (!r.error().empty()) {
    std::fprintf(stderr, "%s run: %s\n\n", env.program.c_str(), r.error().c_str());
    print_run_usage(stderr, env);
    return exit_usage;
  }

  const auto& kinds = env.kinds;
  auto loaded = config::load(file, kinds);
  if (!loaded) {
    std::fputs(loaded.report().c_str(), stderr);
    return exit_usage;
  }
  auto topo = apply_run_flags(flags, std::move(*loaded.topology));
  run_settings settings;
  settings.title = "run " + file;
  settings.json_path = flags.json_path;
  settings.quiet = flags.quiet;
  settings.plain_interval = flags.progress_interval;
  return run_topology(topo, kinds, settings);
}

} // namespace loopbridge::cli
