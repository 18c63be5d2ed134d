// bench/nodes: a request to an echo on a second process, through loopbridge's gateway (a
// `loopbridge node` process) beside raw CAF's `remote_actor` request/reply to an echo actor
// published by a process of this benchmark, over plain TCP and over TLS (caf::openssl, the
// test identities of tests/nodes/tls). Contenders take turns, round by round:
//   - round trip (one request at a time): median latency;
//   - pipelined, 64 requests in flight, 64-byte payloads: rate;
//   - pipelined, 16 in flight, 256 KiB payloads: rate;
// with the CPU per request of both processes (this one and the server). Then how long a node's
// loss (SIGKILL) and a frozen node (SIGSTOP) take to fail the request it holds. Last, the demo
// pipeline (origin -> fetcher -> thumbnails -> writer) run by `loopbridge run`, all in one
// process against thumbnails and writer on two node processes, in turns: printed, not
// required (on two cores the split gains nothing; it shows what the hops cost).
//
//   bench/nodes [--quick]
//   bench/nodes --profile    # only loopbridge's 256 KiB pipelined phase, for 10 s (for perf)
//   bench/nodes --profile rtt  # only loopbridge's round trips, one at a time, for 10 s
//   (`tls` after either: the same over TLS; `raw` after `rtt`: raw CAF's round trips)
//   (bench/nodes --serve-raw PORT [tls] is the raw server this program starts)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "support/test_support.hpp"

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using steady = bench::clock;

namespace {

const char* secret = "bench-nodes-secret-0123456789abcdef";

/// A test identity of tests/nodes/tls: `who`.pem and .key, trusting ca.pem.
tls_spec identity(const std::string& who) {
  auto at = bench::source_dir() + "/tests/nodes/tls/";
  tls_spec tls;
  tls.certificate = at + who + ".pem";
  tls.key = at + who + ".key";
  tls.cafile = at + "ca.pem";
  return tls;
}

/// Loads CAF's TLS layer with `tls` as the process's identity.
void load_tls(caf::actor_system_config& cfg, const tls_spec& tls) {
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.cafile;
}

/// A child process: `argv`, output to a log file; killed when it goes out of scope.
class child {
public:
  child(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~child() { stop(SIGKILL); }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  pid_t pid() const { return pid_; }
  /// Waits for the process to exit; its exit status (-1 if it did not exit normally).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  void stop(int sig) {
    if (pid_ <= 0)
      return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// On-CPU seconds of the process's threads so far: the first field of each thread's
  /// schedstat (nanoseconds; /proc/PID/stat counts in clock ticks, too coarse for a phase of a
  /// few hundred requests).
  double cpu() const {
    std::uint64_t ns = 0;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator{"/proc/" + std::to_string(pid_) + "/task", ec}) {
      std::ifstream sched{task.path() / "schedstat"};
      std::uint64_t on_cpu = 0;
      if (sched >> on_cpu)
        ns += on_cpu;
    }
    return static_cast<double>(ns) / 1e9;
  }

private:
  pid_t pid_ = -1;
};

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Waits until `path` holds `text` (a child announced it listens), up to 30 s.
bool wait_for_text(const std::string& path, const std::string& text) {
  auto deadline = steady::now() + 30s;
  while (steady::now() < deadline) {
    if (slurp(path).find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// -- the raw CAF server (this program with --serve-raw PORT) --------------------------------------

int serve_raw(std::uint16_t port, bool tls) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  if (tls)
    load_tls(cfg, identity("node"));
  caf::actor_system sys{cfg};
  auto echo = sys.spawn([]() -> caf::behavior {
    return {[](std::vector<char>& payload) { return std::move(payload); }};
  });
  auto bound = tls ? caf::openssl::publish(echo, port, "127.0.0.1", true)
                   : sys.middleman().publish(echo, port, "127.0.0.1", true);
  if (!bound) {
    std::printf("cannot publish: %s\n", sys.render(bound.error()).c_str());
    return 1;
  }
  std::printf("raw echo serving on %u\n", static_cast<unsigned>(*bound));
  std::fflush(stdout);
  for (;;)
    ::pause();
}

// -- contenders -----------------------------------------------------------------------------------

/// Before a contender's turn: lets the threads of the one before go idle. CAF's own scheduler
/// polls for about 25 ms after its last work (first spinning, then in 50 us naps) before its
/// threads nap for 10 ms at a time, and those polls would otherwise take the cores from the
/// first phase of the next turn.
void settle() {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

/// Round trips made by `one` (one request at a time) for `seconds`; prints their count and
/// median. A steady load to profile.
template <class OneRoundTrip>
void profile_round_trips(double seconds, OneRoundTrip one) {
  std::vector<double> rtts;
  auto t0 = steady::now();
  while (bench::seconds_since(t0) < seconds) {
    auto t1 = steady::now();
    one();
    rtts.push_back(std::chrono::duration<double, std::micro>(steady::now() - t1).count());
  }
  std::printf("profile: %zu round trips in %.1f s, p50 %.0f us\n", rtts.size(),
              bench::seconds_since(t0), bench::median(rtts));
}

struct sample {
  double rtt_us = 0;       ///< median round trip
  double small_rate = 0;   ///< pipelined 64 B, requests/s
  double large_rate = 0;   ///< pipelined 256 KiB, requests/s
  double cpu_us_rtt = 0;   ///< CPU per round trip (one at a time), both processes
  double cpu_us_small = 0; ///< CPU per pipelined 64 B request, both processes
  double cpu_us_large = 0; ///< CPU per pipelined 256 KiB request, both processes
};

struct sizes {
  int round_trips;
  int small;
  int large;
};

/// Raw CAF: a scoped actor in this process, the published echo in the server process.
class raw_client {
public:
  raw_client(std::uint16_t port, const child& server, bool tls) : server_(server) {
    cfg_.load<caf::io::middleman>();
    if (tls)
      load_tls(cfg_, identity("main"));
    sys_.emplace(cfg_);
    auto h = tls ? caf::openssl::remote_actor(*sys_, "127.0.0.1", port)
                 : sys_->middleman().remote_actor("127.0.0.1", port);
    if (!h) {
      std::fprintf(stderr, "raw: %s\n", sys_->render(h.error()).c_str());
      std::exit(1);
    }
    echo_ = *h;
    self_.emplace(*sys_);
  }
  ~raw_client() {
    self_.reset();
    echo_ = nullptr;
  }
  sample run(const sizes& n) {
    settle();
    sample s;
    std::vector<char> small(64, 'x');
    std::vector<char> large(256 * 1024, 'y');
    std::vector<double> rtts;
    auto cpu_rtt = bench::cpu_seconds(RUSAGE_SELF) + server_.cpu();
    for (int i = 0; i < n.round_trips; ++i) {
      auto t0 = steady::now();
      (*self_)
          ->request(echo_, caf::infinite, small)
          .receive([](std::vector<char>&) {}, [](caf::error&) {});
      rtts.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
    }
    s.rtt_us = bench::median(rtts);
    s.cpu_us_rtt =
        (bench::cpu_seconds(RUSAGE_SELF) + server_.cpu() - cpu_rtt) * 1e6 / n.round_trips;
    auto cpu0 = bench::cpu_seconds(RUSAGE_SELF) + server_.cpu();
    s.small_rate = pipelined(small, n.small, 64);
    s.cpu_us_small = (bench::cpu_seconds(RUSAGE_SELF) + server_.cpu() - cpu0) * 1e6 / n.small;
    auto cpu1 = bench::cpu_seconds(RUSAGE_SELF) + server_.cpu();
    s.large_rate = pipelined(large, n.large, 16);
    s.cpu_us_large = (bench::cpu_seconds(RUSAGE_SELF) + server_.cpu() - cpu1) * 1e6 / n.large;
    return s;
  }

  /// Only round trips, one request at a time, for `seconds`: a steady load to profile.
  void profile_rtt(double seconds) {
    std::vector<char> small(64, 'x');
    profile_round_trips(seconds, [&] {
      (*self_)
          ->request(echo_, caf::infinite, small)
          .receive([](std::vector<char>&) {}, [](caf::error&) {});
    });
  }

private:
  double pipelined(const std::vector<char>& payload, int total, int depth) {
    auto t0 = steady::now();
    int sent = 0, got = 0;
    for (; sent < depth && sent < total; ++sent)
      (*self_)->send(echo_, payload);
    while (got < total) {
      (*self_)->receive([&](std::vector<char>&) {
        ++got;
        if (sent < total) {
          (*self_)->send(echo_, payload);
          ++sent;
        }
      });
    }
    return total / bench::seconds_since(t0);
  }

  const child& server_;
  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> sys_;
  caf::actor echo_;
  std::optional<caf::scoped_actor> self_;
};

/// loopbridge: a runtime whose `far` echo runs on a `loopbridge node` process.
class lb_client {
public:
  lb_client(const topology& topo, const child& node)
      : node_(node),
        rt_(actors::builtin_kinds(), topo),
        far_(*rt_.actor<actors::echo>("far")) {}
  sample run(const sizes& n) {
    settle();
    sample s;
    auto small = request_of(64);
    auto large = request_of(256 * 1024);
    std::vector<double> rtts;
    auto cpu_rtt = bench::cpu_seconds(RUSAGE_SELF) + node_.cpu();
    for (int i = 0; i < n.round_trips; ++i) {
      auto t0 = steady::now();
      (void)far_.call(small, 10s);
      rtts.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
    }
    s.rtt_us = bench::median(rtts);
    s.cpu_us_rtt = (bench::cpu_seconds(RUSAGE_SELF) + node_.cpu() - cpu_rtt) * 1e6 / n.round_trips;
    auto cpu0 = bench::cpu_seconds(RUSAGE_SELF) + node_.cpu();
    s.small_rate = pipelined(small, n.small, 64);
    s.cpu_us_small = (bench::cpu_seconds(RUSAGE_SELF) + node_.cpu() - cpu0) * 1e6 / n.small;
    auto cpu1 = bench::cpu_seconds(RUSAGE_SELF) + node_.cpu();
    s.large_rate = pipelined(large, n.large, 16);
    s.cpu_us_large = (bench::cpu_seconds(RUSAGE_SELF) + node_.cpu() - cpu1) * 1e6 / n.large;
    return s;
  }
  runtime& rt() { return rt_; }
  actor_handle<actors::echo>& far() { return far_; }

  static actors::echo_request request_of(std::size_t bytes) {
    actors::echo_request r;
    r.payload = value{value::bytes(bytes, 7)};
    return r;
  }
  /// Only round trips, one request at a time, for `seconds`: a steady load to profile.
  void profile_rtt(double seconds) {
    auto small = request_of(64);
    profile_round_trips(seconds, [&] { (void)far_.call(small, 10s); });
  }
  /// Only the 256 KiB pipelined phase, for `seconds`: a steady load to profile.
  void profile_large(double seconds) {
    auto large = request_of(256 * 1024);
    auto t0 = steady::now();
    int n = 0;
    while (bench::seconds_since(t0) < seconds) {
      pipelined(large, 200, 16);
      n += 200;
    }
    std::printf("profile: %d requests of 256 KiB in %.1f s\n", n, bench::seconds_since(t0));
  }

private:
  double pipelined(const actors::echo_request& req, int total, int depth) {
    auto t0 = steady::now();
    std::deque<future<actors::echo_reply>> window;
    int sent = 0;
    for (; sent < depth && sent < total; ++sent)
      window.push_back(far_.submit(req, 30s));
    while (!window.empty()) {
      (void)window.front().get();
      window.pop_front();
      if (sent < total) {
        window.push_back(far_.submit(req, 30s));
        ++sent;
      }
    }
    return total / bench::seconds_since(t0);
  }

  const child& node_;
  runtime rt_;
  actor_handle<actors::echo> far_;
};

/// Time from a fault done to the node's process until the request it held fails.
double detection_ms(lb_client& lb, const child& node, int sig) {
  actors::echo_request held;
  held.payload = value{"held"};
  held.delay = 60s;
  auto f = lb.far().submit(held, 120s);
  // The request is there once the node's actor holds it.
  auto deadline = steady::now() + 10s;
  while (lb.rt().metrics("far")->in_flight == 0 && steady::now() < deadline)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms); // past the hop: on the node
  auto t0 = steady::now();
  node.signal(sig);
  if (!f.wait_for(60s))
    return -1;
  return bench::seconds_since(t0) * 1e3;
}

bool answers(lb_client& lb, std::chrono::seconds within) {
  auto deadline = steady::now() + within;
  while (steady::now() < deadline) {
    actors::echo_request r;
    r.payload = value{"back?"};
    if (lb.far().call(r, 1s).ok())
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

/// The demo pipeline as a topology: `placement` empty (all here) or the nodes to declare, with
/// thumbnails placed on `thumbs` and the writer on `files`.
std::string pipeline_topology(const std::string& images, const std::string& out, int count,
                              const std::string& nodes) {
  bool split = !nodes.empty();
  return "runtime: {shutdown_budget: 5s}\n" + nodes +
         "actors:\n"
         "  - {name: origin, kind: http_origin, params: {root: " +
         images +
         "}}\n"
         "  - {name: fetcher, kind: fetcher, depends_on: [origin]}\n"
         "  - name: thumbnails\n"
         "    kind: image_processor\n" +
         (split ? "    node: thumbs\n" : "") +
         "    mailbox: {capacity: 16, overflow: block}\n"
         "    params: {ops: [{op: thumbnail, width: 96}], format: jpeg, quality: 80}\n"
         "  - {name: writer, kind: writer" +
         (split ? ", node: files" : "") + ", params: {root: " + out +
         "}}\n"
         "routes:\n"
         "  - {from: fetcher, to: thumbnails}\n"
         "  - {from: thumbnails, to: writer}\n"
         "workload:\n"
         "  entry: fetcher\n"
         "  request: fetch\n"
         "  generate:\n"
         "    count: " +
         std::to_string(count) +
         "\n"
         "    fields: {url: \"${origin.url}/img-{i%10}.jpg\", raise_for_status: true}\n"
         "  context: {output: \"t{i}.jpg\"}\n"
         "  concurrency: 16\n";
}

/// Runs `loopbridge run FILE` to its end; its images per second (from its JSON summary), or
/// -1 if it failed.
double pipeline_rate(const std::string& dir, const std::string& file) {
  auto json = dir + "/run.json";
  child run{{bench::cli_program(), "run", file, "--quiet", "--json", json}, dir + "/run.log"};
  if (run.wait() != 0) {
    std::fprintf(stderr, "loopbridge run %s failed:\n%s\n", file.c_str(),
                 slurp(dir + "/run.log").c_str());
    return -1;
  }
  auto text = slurp(json);
  auto at = text.find("\"throughput_per_s\": ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + 20));
}

/// One transport's contenders: loopbridge's node and raw CAF's server, and their figures.
struct transport {
  explicit transport(std::string n) : name(std::move(n)) {}
  std::string name; ///< "" for plain TCP, "tls"
  std::unique_ptr<child> node;
  std::unique_ptr<child> raw_server;
  std::uint16_t raw_port = 0;
  std::string file; ///< the topology, with `side` on its own port
  std::string node_log;
  std::vector<sample> lb_runs, raw_runs;
};

/// Writes `t`'s topology and starts its node and raw server.
bool start(transport& t, const std::string& dir, const std::string& self_path) {
  bool tls = !t.name.empty();
  auto yaml = [](const tls_spec& id) {
    return "{certificate: " + id.certificate + ", key: " + id.key + ", cafile: " + id.cafile + "}";
  };
  t.file = dir + "/nodes" + t.name + ".yaml";
  std::ofstream{t.file} << "runtime: {shutdown_budget: 2s"
                        << (tls ? ", tls: " + yaml(identity("main")) : "") << "}\n"
                        << "nodes:\n  - name: side\n    address: 127.0.0.1:"
                        << lbtest::closed_port() << "\n"
                        << (tls ? "    tls: " + yaml(identity("node")) + "\n" : "")
                        << "actors:\n  - name: far\n    kind: echo\n    node: side\n";
  t.node_log = dir + "/node" + t.name + ".log";
  t.node = std::make_unique<child>(
      std::vector<std::string>{bench::cli_program(), "node", "--node", "side", t.file}, t.node_log);
  t.raw_port = lbtest::closed_port();
  auto raw_log = dir + "/raw" + t.name + ".log";
  std::vector<std::string> raw_argv{self_path, "--serve-raw", std::to_string(t.raw_port)};
  if (tls)
    raw_argv.push_back("tls");
  t.raw_server = std::make_unique<child>(raw_argv, raw_log);
  if (wait_for_text(t.node_log, "serving") && wait_for_text(raw_log, "serving"))
    return true;
  std::fprintf(stderr, "a server did not start:\n%s\n%s\n", slurp(t.node_log).c_str(),
               slurp(raw_log).c_str());
  return false;
}

topology load(const std::string& file) {
  auto loaded = config::load(file, actors::builtin_kinds());
  if (!loaded) {
    std::fputs(loaded.report().c_str(), stderr);
    std::exit(1);
  }
  return *loaded.topology;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string{argv[1]} == "--serve-raw")
    return serve_raw(static_cast<std::uint16_t>(std::stoi(argv[2])),
                     argc == 4 && std::string{argv[3]} == "tls");
  bool quick = bench::quick_mode(argc, argv);
  ::setenv("LOOPBRIDGE_NODE_SECRET", secret, 1);
  std::string self_path = argv[0];
  char dir_template[] = "/tmp/loopbridge-bench-nodes-XXXXXX";
  std::string dir = ::mkdtemp(dir_template);

  transport plain{""}, tls{"tls"};
  for (auto* t : {&plain, &tls})
    if (!start(*t, dir, self_path))
      return 1;
  std::printf("nodes: echo on a second process over loopback, loopbridge gateway vs raw CAF "
              "remote_actor, plain TCP and TLS (%s)\n\n",
              quick ? "quick" : "full");
  if (argc >= 2 && std::string{argv[1]} == "--profile") {
    std::vector<std::string> what(argv + 2, argv + argc);
    auto has = [&](const char* word) {
      return std::find(what.begin(), what.end(), word) != what.end();
    };
    auto& t = has("tls") ? tls : plain;
    if (has("rtt") && has("raw")) {
      raw_client raw{t.raw_port, *t.raw_server, has("tls")};
      raw.profile_rtt(10);
      return 0;
    }
    lb_client lb{load(t.file), *t.node};
    if (has("rtt"))
      lb.profile_rtt(10);
    else
      lb.profile_large(10);
    lb.rt().stop();
    return 0;
  }
  sizes n = quick ? sizes{300, 6000, 150} : sizes{1000, 30000, 600};
  int rounds = quick ? 3 : 5;
  {
    lb_client lb{load(plain.file), *plain.node};
    raw_client raw{plain.raw_port, *plain.raw_server, false};
    lb_client lb_tls{load(tls.file), *tls.node};
    raw_client raw_tls{tls.raw_port, *tls.raw_server, true};
    for (auto* warm : {&lb, &lb_tls}) // warm every path
      warm->run({50, 500, 10});
    for (auto* warm : {&raw, &raw_tls})
      warm->run({50, 500, 10});
    std::printf("%-6s %-15s %12s %14s %14s %16s\n", "round", "contender", "rtt p50 us", "64B req/s",
                "256KiB req/s", "CPU us/req 64B");
    auto row = [](int r, const char* who, const sample& x) {
      std::printf("%-6d %-15s %12.0f %14.0f %14.0f %16.1f\n", r, who, x.rtt_us, x.small_rate,
                  x.large_rate, x.cpu_us_small);
    };
    for (int r = 0; r < rounds; ++r) {
      // Each transport's pair in turns, and the transports in turns too.
      auto plain_pair = [&] {
        bench::in_turns(
            static_cast<std::size_t>(r), [&] { plain.lb_runs.push_back(lb.run(n)); },
            [&] { plain.raw_runs.push_back(raw.run(n)); });
      };
      auto tls_pair = [&] {
        bench::in_turns(
            static_cast<std::size_t>(r), [&] { tls.lb_runs.push_back(lb_tls.run(n)); },
            [&] { tls.raw_runs.push_back(raw_tls.run(n)); });
      };
      bench::in_turns(static_cast<std::size_t>(r / 2), plain_pair, tls_pair);
      row(r, "loopbridge", plain.lb_runs.back());
      row(r, "raw CAF", plain.raw_runs.back());
      row(r, "loopbridge TLS", tls.lb_runs.back());
      row(r, "raw CAF TLS", tls.raw_runs.back());
    }

    // Faults (plain TCP): a lost node, then (after a new process is up) a frozen one.
    auto lost_ms = detection_ms(lb, *plain.node, SIGKILL);
    plain.node->stop(SIGKILL);
    plain.node = std::make_unique<child>(
        std::vector<std::string>{bench::cli_program(), "node", "--node", "side", plain.file},
        plain.node_log);
    double frozen_ms = -1;
    if (wait_for_text(plain.node_log, "serving") && answers(lb, 30s)) {
      frozen_ms = detection_ms(lb, *plain.node, SIGSTOP);
      plain.node->signal(SIGCONT);
    }
    std::printf("\nnode lost (SIGKILL): its request failed after %.1f ms\n", lost_ms);
    std::printf("node frozen (SIGSTOP): its request failed after %.1f ms (pings' silence)\n",
                frozen_ms);

    // The demo pipeline by `loopbridge run`: all here, and split over two node processes.
    auto images = dir + "/images";
    child prepare{{bench::cli_program(), "demo", "--count", "1", "--images", images, "--out",
                   dir + "/prepare-out", "--quiet"},
                  dir + "/prepare.log"};
    if (prepare.wait() != 0) {
      std::fprintf(stderr, "demo images: %s\n", slurp(dir + "/prepare.log").c_str());
      return 1;
    }
    int pipeline_count = quick ? 200 : 1000;
    auto local_file = dir + "/pipeline-local.yaml";
    auto split_file = dir + "/pipeline-split.yaml";
    std::ofstream{local_file} << pipeline_topology(images, dir + "/out-local", pipeline_count, "");
    std::ofstream{split_file} << pipeline_topology(
        images, dir + "/out-split", pipeline_count,
        "nodes:\n  - {name: thumbs, address: \"127.0.0.1:" + std::to_string(lbtest::closed_port()) +
            "\"}\n  - {name: files, address: \"127.0.0.1:" + std::to_string(lbtest::closed_port()) +
            "\"}\n");
    child thumbs{{bench::cli_program(), "node", "--node", "thumbs", split_file},
                 dir + "/thumbs.log"};
    child files{{bench::cli_program(), "node", "--node", "files", split_file}, dir + "/files.log"};
    if (!wait_for_text(dir + "/thumbs.log", "serving") ||
        !wait_for_text(dir + "/files.log", "serving")) {
      std::fprintf(stderr, "a pipeline node did not start:\n%s\n%s\n",
                   slurp(dir + "/thumbs.log").c_str(), slurp(dir + "/files.log").c_str());
      return 1;
    }
    std::vector<double> local_rates, split_rates;
    for (int r = 0; r < (quick ? 2 : 4); ++r)
      bench::in_turns(
          static_cast<std::size_t>(r),
          [&] { local_rates.push_back(pipeline_rate(dir, local_file)); },
          [&] { split_rates.push_back(pipeline_rate(dir, split_file)); });
    auto local_rate = bench::median(local_rates);
    auto split_rate = bench::median(split_rates);
    std::printf("\ndemo pipeline (%d thumbnails): all in one process %.0f img/s, thumbnails and "
                "writer on two node processes %.0f img/s\n",
                pipeline_count, local_rate, split_rate);

    bench::report rep;
    for (auto* t : {&plain, &tls}) {
      auto lb_rtt = bench::median_of(t->lb_runs, &sample::rtt_us);
      auto raw_rtt = bench::median_of(t->raw_runs, &sample::rtt_us);
      auto lb_small = bench::median_of(t->lb_runs, &sample::small_rate);
      auto raw_small = bench::median_of(t->raw_runs, &sample::small_rate);
      auto lb_large = bench::median_of(t->lb_runs, &sample::large_rate);
      auto raw_large = bench::median_of(t->raw_runs, &sample::large_rate);
      auto lb_cpu_rtt = bench::median_of(t->lb_runs, &sample::cpu_us_rtt);
      auto raw_cpu_rtt = bench::median_of(t->raw_runs, &sample::cpu_us_rtt);
      auto lb_cpu = bench::median_of(t->lb_runs, &sample::cpu_us_small);
      auto raw_cpu = bench::median_of(t->raw_runs, &sample::cpu_us_small);
      auto lb_cpu_large = bench::median_of(t->lb_runs, &sample::cpu_us_large);
      auto raw_cpu_large = bench::median_of(t->raw_runs, &sample::cpu_us_large);
      auto over = t->name.empty() ? std::string{} : " over TLS";
      auto tag = t->name.empty() ? std::string{"nodes_"} : "nodes_" + t->name + "_";
      // Speed ratios: above 1, loopbridge is ahead (a round trip's ratio is raw over loopbridge).
      rep.require("round trip >= 0.9x raw CAF" + over + " (median)", raw_rtt / lb_rtt >= 0.9);
      rep.require("CPU per round trip <= raw CAF's / 0.85" + over,
                  lb_cpu_rtt <= raw_cpu_rtt / 0.85);
      rep.require("pipelined 64 B >= 0.9x raw CAF" + over + " (median)",
                  lb_small / raw_small >= 0.9);
      rep.require("pipelined 256 KiB >= 0.9x raw CAF" + over + " (median)",
                  lb_large / raw_large >= 0.9);
      rep.require("CPU per pipelined 64 B request <= raw CAF's / 0.85" + over,
                  lb_cpu <= raw_cpu / 0.85);
      rep.require("CPU per pipelined 256 KiB request <= raw CAF's / 0.85" + over,
                  lb_cpu_large <= raw_cpu_large / 0.85);
      rep.figure(tag + "rtt_p50_loopbridge", lb_rtt, "us");
      rep.figure(tag + "rtt_p50_raw_caf", raw_rtt, "us");
      rep.figure(tag + "cpu_per_rtt_loopbridge", lb_cpu_rtt, "us");
      rep.figure(tag + "cpu_per_rtt_raw_caf", raw_cpu_rtt, "us");
      rep.figure(tag + "pipelined_64b_loopbridge", lb_small, "req/s");
      rep.figure(tag + "pipelined_64b_raw_caf", raw_small, "req/s");
      rep.figure(tag + "pipelined_256k_loopbridge", lb_large, "req/s");
      rep.figure(tag + "pipelined_256k_raw_caf", raw_large, "req/s");
      rep.figure(tag + "cpu_per_64b_loopbridge", lb_cpu, "us");
      rep.figure(tag + "cpu_per_64b_raw_caf", raw_cpu, "us");
      rep.figure(tag + "cpu_per_256k_loopbridge", lb_cpu_large, "us");
      rep.figure(tag + "cpu_per_256k_raw_caf", raw_cpu_large, "us");
      rep.ratio(tag + "rtt_raw_over_loopbridge", raw_rtt / lb_rtt);
      rep.ratio(tag + "cpu_per_rtt_raw_over_loopbridge", raw_cpu_rtt / lb_cpu_rtt);
      rep.ratio(tag + "pipelined_64b_loopbridge_over_raw", lb_small / raw_small);
      rep.ratio(tag + "pipelined_256k_loopbridge_over_raw", lb_large / raw_large);
      rep.ratio(tag + "cpu_per_64b_raw_over_loopbridge", raw_cpu / lb_cpu);
      rep.ratio(tag + "cpu_per_256k_raw_over_loopbridge", raw_cpu_large / lb_cpu_large);
    }
    rep.figure("nodes_loss_detection", lost_ms, "ms");
    rep.figure("nodes_freeze_detection", frozen_ms, "ms");
    rep.figure("nodes_pipeline_one_process", local_rate, "img/s");
    rep.figure("nodes_pipeline_two_nodes", split_rate, "img/s");
    rep.ratio("nodes_pipeline_two_nodes_over_one_process", split_rate / local_rate);
    lb.rt().stop();
    lb_tls.rt().stop();
    rep.print();
  }
  for (auto* t : {&plain, &tls}) {
    t->node->stop(SIGKILL);
    t->raw_server->stop(SIGKILL);
  }
  return 0;
}
