#include "topology_runner.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "command.hpp"
#include "run_summary.hpp"

#include "loopbridge/runtime.hpp"
#include "loopbridge/tools/workload.hpp"

namespace loopbridge::cli {

namespace {

/// SIGINT and SIGTERM: what Ctrl-C and a polite `kill` send.
sigset_t interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

/// Turns SIGINT and SIGTERM into calls on a thread of its own: the first runs `on_first`, the
/// second exits the process at once with 130. Blocks the signals in the calling thread first,
/// so threads started later (the runtime's) inherit the mask and never see them.
class interrupt_watch {
public:
  explicit interrupt_watch(std::function<void()> on_first)
      : set_(interrupt_signals()),
        on_first_(std::move(on_first)) {
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    thread_ = std::thread([this] { watch(); });
  }
  ~interrupt_watch() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  bool interrupted() const noexcept { return interrupted_.load(); }

private:
  void watch() {
    while (!done_) {
      timespec tick{0, 100'000'000};
      int sig = sigtimedwait(&set_, nullptr, &tick);
      if (sig < 0)
        continue; // timeout (check done_) or EINTR
      if (!interrupted_.exchange(true)) {
        const char msg[] = "\nstopping: finishing what is in flight (Ctrl-C again to cancel "
                           "everything)\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        on_first_();
      } else {
        const char msg[] = "\ncancelled: exiting now\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(exit_interrupted);
      }
    }
  }

  sigset_t set_{};
  sigset_t previous_{};
  std::function<void()> on_first_;
  std::atomic<bool> done_{false};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

/// One progress line: done/total, rate, errors, what each stage holds (queued + running), and
/// each node's state with the requests there now.
std::string progress_line(const std::string& title, const tools::workload_progress& p,
                          const std::vector<actor_metrics>& stages,
                          const std::vector<node_metrics>& nodes) {
  char head[160];
  double secs = std::chrono::duration<double>(p.elapsed).count();
  std::snprintf(head, sizeof head, "%s: %llu/%llu done, %.1f/s, %llu errors | held:", title.c_str(),
                static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.total),
                secs > 0 ? static_cast<double>(p.done) / secs : 0.0,
                static_cast<unsigned long long>(p.failed));
  std::string line = head;
  for (auto& m : stages)
    line += " " + m.name + " " + std::to_string(m.queued + m.in_flight);
  if (!nodes.empty())
    line += " | nodes:";
  for (auto& n : nodes)
    line += " " + n.name + (n.up ? " up " + std::to_string(n.in_flight) : " down");
  return line;
}

/// A node's line for the end of a run: its state and what went there.
std::string node_line(const node_metrics& n) {
  auto line = "node " + n.name + " (" + n.address + "): " + (n.up ? "up" : "down") + ", " +
              std::to_string(n.sent) + " sent, " + std::to_string(n.answered) + " answered, " +
              std::to_string(n.lost) + " lost with it, " + std::to_string(n.connects) + " connect" +
              (n.connects == 1 ? "" : "s") + ", " + std::to_string(n.losses) + " loss" +
              (n.losses == 1 ? "" : "es");
  if (!n.up && n.failure)
    line += " (" + n.failure->to_string() + ")";
  return line + "\n";
}

/// The runtime's metrics, in the order the topology declares its actors (a pipeline reads
/// from its first stage to its last).
std::vector<actor_metrics> stages_of(const runtime& rt, const topology& topo) {
  auto all = rt.metrics();
  std::vector<actor_metrics> ordered;
  for (auto& spec : topo.actors)
    for (auto& m : all)
      if (m.name == spec.name)
        ordered.push_back(m);
  return ordered;
}

} // namespace

void block_interrupts() {
  auto set = interrupt_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_topology(const topology& topo, const kind_registry& kinds, const run_settings& settings) {
  if (!topo.workload) {
    std::fprintf(stderr, "%s: the topology declares no workload: nothing to run\n",
                 topo.source.c_str());
    return exit_usage;
  }
  std::atomic<bool> stop_sending{false};
  // The graceful stop runs on a thread of its own, so a second Ctrl-C is still heard.
  std::mutex stopper_mutex;
  std::thread stopper;
  runtime* live = nullptr; // set once the runtime runs its workload
  auto begin_stop = [&] {
    std::lock_guard<std::mutex> guard{stopper_mutex};
    if (live && !stopper.joinable())
      stopper = std::thread([rt = live] { rt->stop(); });
  };
  auto join_stopper = [&] {
    std::lock_guard<std::mutex> guard{stopper_mutex};
    if (stopper.joinable())
      stopper.join();
    live = nullptr;
  };
  // Signals are blocked before the runtime's threads exist (they inherit the mask).
  interrupt_watch signals{[&] {
    stop_sending = true;
    begin_stop();
  }};
  runtime rt{kinds, topo.options()};
  if (auto ok = rt.start(topo); !ok) {
    std::fprintf(stderr, "%s: cannot start: %s\n", topo.source.c_str(),
                 ok.error().message().c_str());
    return exit_usage;
  }
  {
    std::lock_guard<std::mutex> guard{stopper_mutex};
    live = &rt;
  }
  if (signals.interrupted()) // Ctrl-C while starting
    begin_stop();

  bool tty = ::isatty(STDOUT_FILENO) == 1;
  tools::workload_options options;
  options.stop = &stop_sending;
  options.keep_outcomes = false;
  options.progress_interval = tty ? std::chrono::milliseconds(200) : settings.plain_interval;
  if (!settings.quiet)
    options.on_progress = [&](const tools::workload_progress& p) {
      auto line = progress_line(settings.title, p, stages_of(rt, topo), rt.nodes());
      if (tty)
        std::printf("\r%s\x1b[K", line.c_str());
      else
        std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
  auto result = tools::run_workload(rt, *topo.workload, options);
  if (!settings.quiet && tty)
    std::printf("\n");
  join_stopper();
  if (!result.error.empty()) {
    std::fprintf(stderr, "%s: %s\n", topo.source.c_str(), result.error.c_str());
    return exit_usage;
  }
  auto nodes = rt.nodes(); // before the stop, which ends the links
  auto& report = rt.stop();
  auto summary = summarize(settings.title, std::move(result), stages_of(rt, topo), report,
                           signals.interrupted());
  std::printf("%s", summary.table().c_str());
  for (auto& n : nodes)
    std::printf("%s", node_line(n).c_str());
  std::fflush(stdout);
  if (!settings.json_path.empty()) {
    std::ofstream out{settings.json_path};
    out << summary.json();
    if (!out) {
      std::fprintf(stderr, "cannot write %s: %s\n", settings.json_path.c_str(),
                   std::strerror(errno));
      return exit_usage;
    }
  }
  return summary.exit_code();
}

} // namespace loopbridge::cli
