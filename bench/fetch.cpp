// bench/fetch: HTTP GETs against a real nginx on 127.0.0.1 (started here, tests' fixture),
// side by side in one run:
//   - loopbridge: host thread -> loop -> fetcher (one libcurl multi session on its own I/O
//     thread), a window of outstanding futures kept full through a completion_queue;
//   - a raw libcurl multi loop (one thread, curl_multi_poll, easy handles reused): the ceiling;
//   - the same loop given the URL parsed once (CURLOPT_CURLU, as the session does):
//     informational, so that what the parsed URL is worth is not mistaken for the runtime's;
//   - Python aiohttp, one ClientSession, Semaphore + gather (baselines/fetch_aiohttp.py);
//   - wrk -t1 with a Lua script (baselines/fetch_check.lua), duration-based.
// Every contender checks every response (status 200, exact body size) and reports its errors.
// Cases: 20,000 GETs of a 1 KiB file, 64 concurrent (loopbridge and raw curl in four
// alternating slices of 5,000, each taking its turn to go first); 100 KiB and 1 MiB bodies, 16
// concurrent, each size through a fetcher (and a raw loop) of its own with 16 connections (the
// same way: rates and the CPU of the whole process per request); 5,000
// submitted at once to a fetcher with max_connections 16, with the process's peak RSS (VmHWM,
// reset through /proc/self/clear_refs before the case).
//
// usage: fetch [--quick]
#include <curl/curl.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/completion_queue.hpp"
#include "loopbridge/runtime.hpp"
#include "support/nginx_fixture.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using loopbridge::actors::fetch_reply;
using loopbridge::actors::fetch_request;
using loopbridge::actors::fetcher;
namespace lbb = loopbridge::bench;

namespace {

constexpr std::size_t small_size = 1024;
constexpr std::size_t medium_size = 100 << 10;
constexpr std::size_t large_size = 1 << 20;

struct outcome {
  double req_per_s = 0;
  std::size_t errors = 0;
};

// -- loopbridge ----------------------------------------------------------------------------------

/// `n` GETs of `url` with `window` outstanding, from this (host) thread: submit until the
/// window is full, then take whichever completes first and submit the next.
outcome loopbridge_window(const actor_handle<fetcher>& h, const std::string& url, std::size_t n,
                          std::size_t window, std::size_t expect) {
  outcome out;
  std::vector<future<fetch_reply>> fs(n);
  completion_queue done;
  std::size_t sent = 0, received = 0;
  auto submit_next = [&] {
    fs[sent] = h.submit(fetch_request::get(url));
    (void)done.watch(fs[sent]); // tokens count up from 0: the token is the index
    ++sent;
  };
  auto t0 = lbb::clock::now();
  while (sent < n && sent < window)
    submit_next();
  while (received < n) {
    auto token = done.pop(30s);
    if (!token) {
      std::fprintf(stderr, "  loopbridge: %s\n", token.error().message().c_str());
      out.errors += n - received;
      break;
    }
    auto r = fs[*token].get();
    ++received;
    if (!r || r->status != 200 || r->body.size() != expect)
      ++out.errors;
    // Checked: let the reply go, as a host would (the raw loop keeps no body either). Keeping
    // all n replies alive would grow the heap by n bodies and time page faults, not HTTP.
    fs[*token] = future<fetch_reply>{};
    if (sent < n)
      submit_next();
  }
  out.req_per_s = static_cast<double>(n) / lbb::seconds_since(t0);
  return out;
}

struct outstanding_outcome {
  outcome o;
  double rss_start_mib = 0;
  double rss_peak_mib = 0;
};

/// VmHWM or VmRSS from /proc/self/status, in MiB.
double proc_status_mib(const char* key) {
  std::ifstream in{"/proc/self/status"};
  std::string k;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0)
      return std::strtod(line.c_str() + std::strlen(key) + 1, nullptr) / 1024.0; // kB
  return 0;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0).
bool reset_peak_rss() {
  std::ofstream out{"/proc/self/clear_refs"};
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

/// `n` GETs submitted at once to a fetcher with max_connections 16, all checked; peak RSS over
/// the case.
outstanding_outcome loopbridge_outstanding(const std::string& url, std::size_t n) {
  outstanding_outcome out;
  runtime rt{actors::builtin_kinds()};
  rt.spawn("fetch16", "fetcher", {{"max_connections", 16}}).value();
  auto h = rt.actor<fetcher>("fetch16").value();
  (void)loopbridge_window(h, url, 64, 16, small_size); // connections up
  if (!reset_peak_rss())
    std::fprintf(stderr, "  cannot reset VmHWM (/proc/self/clear_refs): peak RSS is the "
                         "process's lifetime peak\n");
  out.rss_start_mib = proc_status_mib("VmRSS:");
  auto t0 = lbb::clock::now();
  std::vector<future<fetch_reply>> fs;
  fs.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    fs.push_back(h.submit(fetch_request::get(url)));
  for (auto& f : fs) {
    auto r = f.get();
    if (!r || r->status != 200 || r->body.size() != small_size)
      ++out.o.errors;
  }
  out.o.req_per_s = static_cast<double>(n) / lbb::seconds_since(t0);
  out.rss_peak_mib = proc_status_mib("VmHWM:");
  return out;
}

// -- CPU time by thread -------------------------------------------------------------------------

/// On-CPU milliseconds (schedstat) of this process's threads, by thread name.
std::map<std::string, double> thread_cpu_ms() {
  std::map<std::string, double> out;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm{task.path() / "comm"}, sched{task.path() / "schedstat"};
    std::string name;
    double ns = 0;
    if (std::getline(comm, name) && (sched >> ns))
      out[name] += ns / 1e6;
  }
  return out;
}

/// On-CPU milliseconds of nginx: its master `master` and the master's children (workers).
double nginx_cpu_ms(pid_t master) {
  double ms = 0;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto& proc : fs::directory_iterator("/proc", ec)) {
    auto name = proc.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    std::ifstream stat{proc.path() / "stat"}, sched{proc.path() / "schedstat"};
    std::string line;
    if (!std::getline(stat, line))
      continue;
    auto close = line.rfind(')'); // comm may hold spaces: fields resume after ')'
    int ppid = 0;
    char state = 0;
    if (close == std::string::npos ||
        std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2)
      continue;
    double ns = 0;
    if ((std::stoi(name) == master || ppid == master) && (sched >> ns))
      ms += ns / 1e6;
  }
  return ms;
}

/// CPU microseconds per request, by role, over one measured case.
struct cpu_split {
  std::map<std::string, double> before;
  double nginx_before = 0;
  pid_t nginx = -1;

  explicit cpu_split(pid_t nginx_master)
      : before(thread_cpu_ms()),
        nginx_before(nginx_cpu_ms(nginx_master)),
        nginx(nginx_master) {}

  /// role -> us per request: "io" (the fetcher's I/O thread), "loop", "host" (this thread,
  /// named after the program), "other", "nginx".
  std::map<std::string, double> per_request(std::size_t n) const {
    std::map<std::string, double> out{{"io", 0}, {"loop", 0}, {"host", 0}, {"other", 0}};
    for (auto& [name, ms] : thread_cpu_ms()) {
      auto it = before.find(name);
      double d = (ms - (it == before.end() ? 0 : it->second)) * 1000 / static_cast<double>(n);
      if (name.rfind("lb.fetch.", 0) == 0)
        out["io"] += d;
      else if (name == "lb.loop")
        out["loop"] += d;
      else if (name == "fetch")
        out["host"] += d;
      else
        out["other"] += d;
    }
    out["nginx"] = (nginx_cpu_ms(nginx) - nginx_before) * 1000 / static_cast<double>(n);
    return out;
  }
};

// -- raw libcurl multi ---------------------------------------------------------------------------

/// The ceiling: one thread, one multi handle, `concurrency` easy handles set up once and re-added
/// for each request (connections stay in the multi's cache), curl_multi_poll between steps.
/// With `parsed_url`, the handles get the URL parsed once (`CURLOPT_CURLU`, as the fetcher's
/// session does) instead of as a string, which libcurl parses again for every transfer: shown
/// beside the plain loop, so that the gain this brings is not mistaken for the runtime's.
class raw_curl {
public:
  raw_curl(const std::string& url, std::size_t concurrency, bool parsed_url = false)
      : slots_(concurrency) {
    if (parsed_url) {
      url_ = curl_url();
      curl_url_set(url_, CURLUPART_URL, url.c_str(), 0);
    }
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(concurrency));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(concurrency));
    for (auto& s : slots_) {
      s.easy = curl_easy_init();
      if (url_)
        curl_easy_setopt(s.easy, CURLOPT_CURLU, url_);
      else
        curl_easy_setopt(s.easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(s.easy, CURLOPT_USERAGENT, "loopbridge"); // the same request bytes
      curl_easy_setopt(s.easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
      curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, &slot::on_body);
      curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s);
    }
  }
  ~raw_curl() {
    for (auto& s : slots_)
      curl_easy_cleanup(s.easy);
    curl_multi_cleanup(multi_);
    curl_url_cleanup(url_);
  }
  raw_curl(const raw_curl&) = delete;
  raw_curl& operator=(const raw_curl&) = delete;

  outcome run(std::size_t n, std::size_t expect) {
    outcome out;
    std::size_t started = 0, finished = 0;
    auto t0 = lbb::clock::now();
    for (auto& s : slots_) {
      if (started == n)
        break;
      s.body.clear();
      curl_multi_add_handle(multi_, s.easy);
      ++started;
    }
    while (finished < n) {
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE)
          continue;
        slot* s = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (m->data.result != CURLE_OK || status != 200 || s->body.size() != expect)
          ++out.errors;
        ++finished;
        CURL* e = m->easy_handle;
        curl_multi_remove_handle(multi_, e);
        if (started < n) {
          s->body.clear();
          curl_multi_add_handle(multi_, e);
          ++started;
        }
      }
      if (finished < n)
        curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    out.req_per_s = static_cast<double>(n) / lbb::seconds_since(t0);
    return out;
  }

private:
  struct slot {
    CURL* easy = nullptr;
    std::vector<char> body;
    static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
      auto* s = static_cast<slot*>(self);
      s->body.insert(s->body.end(), data, data + size * n);
      return size * n;
    }
  };
  CURLM* multi_ = nullptr;
  CURLU* url_ = nullptr;
  std::vector<slot> slots_;
};

// -- large bodies ---------------------------------------------------------------------------------

/// One body size, loopbridge against the raw loop in `slices` alternating slices (each taking
/// its turn to go first): rates from the sums of the slices, and the CPU of every thread of the
/// process per request (the raw loop has one; nginx apart).
struct body_case {
  double lb_rate = 0, raw_rate = 0;     // req/s
  double lb_cpu_us = 0, raw_cpu_us = 0; // us per request
  /// loopbridge's CPU per request by thread ("io", "loop", "host"): where its CPU beyond the
  /// raw loop's goes.
  std::map<std::string, double> lb_role_us;
  std::size_t lb_errors = 0, raw_errors = 0;
};

body_case measure_bodies(const actor_handle<fetcher>& h, raw_curl& raw, const std::string& url,
                         std::size_t size, std::size_t n, std::size_t window, std::size_t slices,
                         pid_t nginx) {
  body_case out;
  std::size_t slice = n / slices;
  double lb_secs = 0, raw_secs = 0;
  auto process_us = [&](const cpu_split& cpu) {
    double us = 0;
    for (auto& [role, v] : cpu.per_request(slice))
      if (role != "nginx")
        us += v;
    return us / static_cast<double>(slices);
  };
  for (std::size_t s = 0; s < slices; ++s)
    lbb::in_turns(
        s,
        [&] {
          cpu_split cpu{nginx};
          auto o = loopbridge_window(h, url, slice, window, size);
          out.lb_cpu_us += process_us(cpu);
          for (auto& [role, us] : cpu.per_request(slice))
            out.lb_role_us[role] += us / static_cast<double>(slices);
          lb_secs += static_cast<double>(slice) / o.req_per_s;
          out.lb_errors += o.errors;
        },
        [&] {
          cpu_split cpu{nginx};
          auto o = raw.run(slice, size);
          out.raw_cpu_us += process_us(cpu);
          raw_secs += static_cast<double>(slice) / o.req_per_s;
          out.raw_errors += o.errors;
        });
  out.lb_rate = static_cast<double>(slice * slices) / lb_secs;
  out.raw_rate = static_cast<double>(slice * slices) / raw_secs;
  return out;
}

// -- external contenders -------------------------------------------------------------------------

/// Runs `cmd` and returns the `key value` pairs it prints on lines starting with `result `;
/// every other line is kept in `other` (printed when something went wrong).
std::map<std::string, double> run_results(const std::string& cmd, std::string& other) {
  std::map<std::string, double> out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((cmd + " 2>&1").c_str(), "r"), pclose);
  if (!pipe)
    return out;
  char line[512];
  while (std::fgets(line, sizeof line, pipe.get())) {
    char key[128];
    double value;
    if (std::sscanf(line, "result %127s %lf", key, &value) == 2)
      out[key] = value;
    else
      other += std::string{"    "} + line;
  }
  return out;
}

void write_file(const std::string& path, std::size_t n) {
  std::vector<char> bytes(n);
  for (std::size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<char>((i * 31 + 7) & 0xff);
  std::ofstream out{path, std::ios::binary};
  out.write(bytes.data(), static_cast<std::streamsize>(n));
}

double mb(double bytes) {
  return bytes / 1e6;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 3 : 5;
  std::size_t small_n = 20000, small_window = 64, small_slices = 4;
  std::size_t large_n = quick ? 1600 : 4000, medium_n = quick ? 8000 : 20000, body_window = 16,
              body_slices = 4;
  std::size_t outstanding_n = 5000;
  std::size_t py_n = quick ? 5000 : 20000;
  int py_runs = quick ? 1 : 3;
  int wrk_secs = quick ? 2 : 5;
  int wrk_runs = quick ? 2 : 3;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  char tmpl[] = "/tmp/loopbridge-bench-fetch-XXXXXX";
  std::string root = ::mkdtemp(tmpl);
  write_file(root + "/small.bin", small_size);
  write_file(root + "/medium.bin", medium_size);
  write_file(root + "/large.bin", large_size);
  lbtest::nginx_server nginx{root};
  auto small_url = nginx.url() + "/small.bin";
  auto medium_url = nginx.url() + "/medium.bin";
  auto large_url = nginx.url() + "/large.bin";
  std::printf("fetch: nginx %s (1 worker), %d runs; %zu GETs of 1 KiB, %zu concurrent (in %zu "
              "alternating slices); %zu of 100 KiB and %zu of 1 MiB, %zu concurrent (in %zu "
              "alternating slices); %zu outstanding at once%s\n",
              nginx.url().c_str(), runs, small_n, small_window, small_slices, medium_n, large_n,
              body_window, body_slices, outstanding_n, quick ? " (quick)" : "");
  std::fflush(stdout);

  std::vector<double> lb_small, curl_small, curlu_small, lb_out, rss_peak, rss_start, paired;
  std::vector<body_case> medium, large;
  std::size_t lb_errors = 0, curl_errors = 0, out_errors = 0;
  std::map<std::string, std::vector<double>> lb_cpu_us, raw_cpu_us; // role -> us per request
  for (int run = 0; run < runs; ++run) {
    // First in each run: in run 1 nothing else has grown the heap yet (later runs start from
    // what glibc kept of the earlier cases; the RSS at the start is printed beside the peak).
    auto o = loopbridge_outstanding(small_url, outstanding_n);
    lb_out.push_back(o.o.req_per_s);
    rss_peak.push_back(o.rss_peak_mib);
    rss_start.push_back(o.rss_start_mib);
    out_errors += o.o.errors;

    // Each body size has a fetcher of its own with as many connections as the raw loop of
    // that size has: a connection's TCP buffers grow with what it carried, so connections
    // that had carried 1 KiB bodies would stall on a large body where the raw loop's would not.
    runtime rt{actors::builtin_kinds()};
    auto fetcher_of = [&](const std::string& name, std::size_t connections) {
      rt.spawn(name, "fetcher", {{"max_connections", static_cast<std::int64_t>(connections)}})
          .value();
      return rt.actor<fetcher>(name).value();
    };
    auto h = fetcher_of("fetch", small_window);
    auto h_medium = fetcher_of("f100k", body_window);
    auto h_large = fetcher_of("f1m", body_window);
    raw_curl curl_small_client{small_url, small_window};
    raw_curl curlu_small_client{small_url, small_window, true};
    raw_curl curl_medium_client{medium_url, body_window};
    raw_curl curl_large_client{large_url, body_window};
    // Warm-up (connections, caches), the same for both, checked like the rest.
    lb_errors += loopbridge_window(h, small_url, 1000, small_window, small_size).errors;
    lb_errors +=
        loopbridge_window(h_medium, medium_url, body_window, body_window, medium_size).errors;
    lb_errors += loopbridge_window(h_large, large_url, body_window, body_window, large_size).errors;
    curl_errors += curl_small_client.run(1000, small_size).errors;
    curl_errors += curlu_small_client.run(1000, small_size).errors;
    curl_errors += curl_medium_client.run(body_window, medium_size).errors;
    curl_errors += curl_large_client.run(body_window, large_size).errors;

    // The 1 KiB case in slices, the contenders alternating and taking turns to go first, so
    // that all see the same machine: on a shared host its speed drifts by tens of percent
    // within seconds, and whichever went first in a long block would carry that drift alone.
    auto a = outcome{}, b = outcome{}, bu = outcome{};
    {
      std::size_t slice = small_n / small_slices;
      double lb_secs = 0, raw_secs = 0, rawu_secs = 0;
      std::map<std::string, double> lb_us, raw_us;
      auto lb_slice = [&] {
        cpu_split cpu{nginx.pid()};
        auto o = loopbridge_window(h, small_url, slice, small_window, small_size);
        for (auto& [role, us] : cpu.per_request(slice))
          lb_us[role] += us / small_slices;
        lb_secs += static_cast<double>(slice) / o.req_per_s;
        a.errors += o.errors;
      };
      auto raw_slice = [&] {
        cpu_split cpu{nginx.pid()};
        auto o = curl_small_client.run(slice, small_size);
        for (auto& [role, us] : cpu.per_request(slice))
          raw_us[role] += us / small_slices;
        raw_secs += static_cast<double>(slice) / o.req_per_s;
        b.errors += o.errors;
      };
      auto rawu_slice = [&] {
        auto o = curlu_small_client.run(slice, small_size);
        rawu_secs += static_cast<double>(slice) / o.req_per_s;
        bu.errors += o.errors;
      };
      for (std::size_t s = 0; s < small_slices; ++s) {
        lbb::in_turns(s, lb_slice, raw_slice);
        rawu_slice(); // informational: after the pair, which it does not come between
      }
      a.req_per_s = static_cast<double>(slice * small_slices) / lb_secs;
      b.req_per_s = static_cast<double>(slice * small_slices) / raw_secs;
      bu.req_per_s = static_cast<double>(slice * small_slices) / rawu_secs;
      for (auto& [role, us] : lb_us)
        lb_cpu_us[role].push_back(us);
      for (auto& [role, us] : raw_us)
        raw_cpu_us[role].push_back(us);
    }
    auto c = measure_bodies(h_medium, curl_medium_client, medium_url, medium_size, medium_n,
                            body_window, body_slices, nginx.pid());
    auto d = measure_bodies(h_large, curl_large_client, large_url, large_size, large_n, body_window,
                            body_slices, nginx.pid());
    lb_small.push_back(a.req_per_s);
    curl_small.push_back(b.req_per_s);
    curlu_small.push_back(bu.req_per_s);
    paired.push_back(a.req_per_s / b.req_per_s);
    medium.push_back(c);
    large.push_back(d);
    lb_errors += a.errors + c.lb_errors + d.lb_errors;
    curl_errors += b.errors + bu.errors + c.raw_errors + d.raw_errors;
    std::printf("run %d: 1 KiB loopbridge %.0f/s, raw curl %.0f/s (%.2fx); 100 KiB loopbridge "
                "%.0f MB/s, raw curl %.0f MB/s (%.2fx); 1 MiB loopbridge %.0f MB/s, raw curl %.0f "
                "MB/s (%.2fx); 5000 outstanding %.0f/s, RSS %.1f -> peak %.1f MiB\n",
                run + 1, a.req_per_s, b.req_per_s, a.req_per_s / b.req_per_s,
                mb(c.lb_rate * medium_size), mb(c.raw_rate * medium_size), c.lb_rate / c.raw_rate,
                mb(d.lb_rate * large_size), mb(d.raw_rate * large_size), d.lb_rate / d.raw_rate,
                o.o.req_per_s, o.rss_start_mib, o.rss_peak_mib);
    std::fflush(stdout);
  }

  // Python aiohttp: one invocation, its own runs, median.
  std::string py_out;
  auto py =
      run_results("/usr/bin/python3 " + lbb::bench_dir() + "/baselines/fetch_aiohttp.py " +
                      small_url + " " + std::to_string(py_n) + " " + std::to_string(small_window) +
                      " " + std::to_string(py_runs) + " " + std::to_string(small_size),
                  py_out);
  bool py_ok = py.count("req_per_s") && py.count("errors");
  if (!py_ok)
    std::fprintf(stderr, "  aiohttp baseline failed (/usr/bin/python3, python3-aiohttp):\n%s",
                 py_out.c_str());

  // wrk: duration-based, -t1 -c64, every response checked by the Lua script.
  std::vector<double> wrk_rate;
  std::size_t wrk_errors = 0, wrk_checked = 0;
  bool wrk_ok = true;
  for (int run = 0; run < wrk_runs && wrk_ok; ++run) {
    std::string wrk_out;
    auto w = run_results("/usr/bin/wrk -t1 -c" + std::to_string(small_window) + " -d" +
                             std::to_string(wrk_secs) + "s -s " + lbb::bench_dir() +
                             "/baselines/fetch_check.lua " + small_url + " -- " +
                             std::to_string(small_size),
                         wrk_out);
    if (!w.count("req_per_s") || !w.count("errors")) {
      std::fprintf(stderr, "  wrk baseline failed (/usr/bin/wrk):\n%s", wrk_out.c_str());
      wrk_ok = false;
      break;
    }
    wrk_rate.push_back(w["req_per_s"]);
    wrk_errors += static_cast<std::size_t>(w["errors"]);
    wrk_checked += static_cast<std::size_t>(w["checked"]);
    if (w["errors"] > 0)
      std::fprintf(stderr, "  wrk:\n%s", wrk_out.c_str());
  }

  double lb = lbb::median(lb_small), raw = lbb::median(curl_small);
  double rawu = lbb::median(curlu_small);
  // Each body size's figures: medians over the runs of rates and of CPU per request.
  struct body_figures {
    double lb, raw, lb_cpu, raw_cpu, io, loop, host;
  };
  auto figures_of = [](const std::vector<body_case>& cases) {
    auto role = [&](const char* name) {
      std::vector<double> v;
      for (auto& c : cases)
        v.push_back(c.lb_role_us.count(name) ? c.lb_role_us.at(name) : 0.0);
      return lbb::median(v);
    };
    return body_figures{lbb::median_of(cases, &body_case::lb_rate),
                        lbb::median_of(cases, &body_case::raw_rate),
                        lbb::median_of(cases, &body_case::lb_cpu_us),
                        lbb::median_of(cases, &body_case::raw_cpu_us),
                        role("io"),
                        role("loop"),
                        role("host")};
  };
  auto med = figures_of(medium), lrg = figures_of(large);
  double py_rate = py_ok ? py["req_per_s"] : 0;
  double wrk = wrk_rate.empty() ? 0 : lbb::median(wrk_rate);
  std::size_t py_errors = py_ok ? static_cast<std::size_t>(py["errors"]) : 0;

  std::printf("\n%-52s %12s %8s\n", "1 KiB GETs, 64 concurrent (medians)", "req/s", "errors");
  std::printf("%-52s %12.0f %8zu   (%.2fx raw curl; per-run ratios' median %.2fx)\n",
              "loopbridge host -> loop -> fetcher", lb, lb_errors, lb / raw, lbb::median(paired));
  std::printf("%-52s %12.0f %8zu   (known range here: ~24 k req/s)\n",
              "raw libcurl multi, one thread", raw, curl_errors);
  std::printf("%-52s %12.0f %8s   (the same, the URL parsed once: loopbridge %.2fx)\n",
              "raw libcurl multi, CURLOPT_CURLU", rawu, "", lb / rawu);
  if (py_ok)
    std::printf("%-52s %12.0f %8zu   (known range here: ~2.6 k req/s)\n",
                "Python aiohttp, one ClientSession", py_rate, py_errors);
  else
    std::printf("Python aiohttp baseline unavailable\n");
  if (wrk_ok)
    std::printf("%-52s %12.0f %8zu   (%zu responses checked)\n", "wrk -t1 -c64 (Lua check)", wrk,
                wrk_errors, wrk_checked);
  else
    std::printf("wrk baseline unavailable\n");
  std::printf("\n%-52s %12s %12s\n", "CPU per 1 KiB GET (us, medians; on-CPU time)", "loopbridge",
              "raw curl");
  std::printf("%-52s %12.1f %12.1f\n", "  fetcher I/O thread | the raw loop's one thread",
              lbb::median(lb_cpu_us["io"]), lbb::median(raw_cpu_us["host"]));
  std::printf("%-52s %12.1f\n", "  event loop thread", lbb::median(lb_cpu_us["loop"]));
  std::printf("%-52s %12.1f\n", "  host thread (submits, checks)", lbb::median(lb_cpu_us["host"]));
  std::printf("%-52s %12.1f %12.1f\n", "  other threads of the process",
              lbb::median(lb_cpu_us["other"]), lbb::median(raw_cpu_us["other"]));
  std::printf("%-52s %12.1f %12.1f\n", "  nginx (1 worker)", lbb::median(lb_cpu_us["nginx"]),
              lbb::median(raw_cpu_us["nginx"]));
  for (auto [label, f, size] :
       {std::tuple{"100 KiB", med, medium_size}, std::tuple{"1 MiB", lrg, large_size}}) {
    std::printf("\n%-7s GETs, 16 concurrent (medians) %20s %12s %12s\n", label, "MB/s", "req/s",
                "CPU us/req");
    std::printf("%-52s %12.0f %12.0f %12.1f\n", "loopbridge host -> loop -> fetcher",
                mb(f.lb * static_cast<double>(size)), f.lb, f.lb_cpu);
    std::printf("%-52s %12s %12s %12.1f\n", "  of which the fetcher's I/O thread", "", "", f.io);
    std::printf("%-52s %12s %12s %12.1f\n", "  the event loop thread", "", "", f.loop);
    std::printf("%-52s %12s %12s %12.1f\n", "  the host thread (submits, checks)", "", "", f.host);
    std::printf("%-52s %12.0f %12.0f %12.1f\n", "raw libcurl multi, one thread",
                mb(f.raw * static_cast<double>(size)), f.raw, f.raw_cpu);
  }
  double rss_limit = 64.0 + 2.0 * static_cast<double>(outstanding_n * small_size) / (1 << 20);
  std::printf("\n%-52s %12.0f req/s, %zu errors\n", "5,000 outstanding at once, 16 connections",
              lbb::median(lb_out), out_errors);
  std::printf("%-52s %12.1f MiB (%.1f MiB at the start; limit %.1f MiB)\n", "  peak RSS (VmHWM)",
              lbb::median(rss_peak), lbb::median(rss_start), rss_limit);

  // The fetcher's I/O thread does what the raw loop's one thread does (drive libcurl, hand
  // replies over): its CPU per request against the raw loop's.
  double io_over_raw = lbb::median(lb_cpu_us["io"]) / lbb::median(raw_cpu_us["host"]);
  lbb::report rep;
  rep.figure("get_1k_loopbridge", lb, "req/s");
  rep.figure("get_1k_raw_curl_multi", raw, "req/s");
  rep.figure("get_1k_raw_curl_multi_parsed_url", rawu, "req/s");
  if (py_ok)
    rep.figure("get_1k_python_aiohttp", py_rate, "req/s");
  if (wrk_ok)
    rep.figure("get_1k_wrk", wrk, "req/s");
  rep.figure("get_100k_loopbridge", mb(med.lb * medium_size), "MB/s");
  rep.figure("get_100k_raw_curl_multi", mb(med.raw * medium_size), "MB/s");
  rep.figure("get_100k_cpu_loopbridge_process", med.lb_cpu, "us/req");
  rep.figure("get_100k_cpu_raw_curl_multi", med.raw_cpu, "us/req");
  rep.figure("get_100k_cpu_loopbridge_io_thread", med.io, "us/req");
  rep.figure("get_100k_cpu_loopbridge_loop_thread", med.loop, "us/req");
  rep.figure("get_100k_cpu_loopbridge_host_thread", med.host, "us/req");
  rep.figure("get_1m_loopbridge", mb(lrg.lb * large_size), "MB/s");
  rep.figure("get_1m_raw_curl_multi", mb(lrg.raw * large_size), "MB/s");
  rep.figure("get_1m_cpu_loopbridge_process", lrg.lb_cpu, "us/req");
  rep.figure("get_1m_cpu_raw_curl_multi", lrg.raw_cpu, "us/req");
  rep.figure("get_1m_cpu_loopbridge_io_thread", lrg.io, "us/req");
  rep.figure("get_1m_cpu_loopbridge_loop_thread", lrg.loop, "us/req");
  rep.figure("get_1m_cpu_loopbridge_host_thread", lrg.host, "us/req");
  rep.figure("get_1k_cpu_loopbridge_io_thread", lbb::median(lb_cpu_us["io"]), "us/req");
  rep.figure("get_1k_cpu_loopbridge_loop_thread", lbb::median(lb_cpu_us["loop"]), "us/req");
  rep.figure("get_1k_cpu_loopbridge_host_thread", lbb::median(lb_cpu_us["host"]), "us/req");
  rep.figure("get_1k_cpu_raw_curl_multi_thread", lbb::median(raw_cpu_us["host"]), "us/req");
  rep.figure("outstanding_5000_loopbridge", lbb::median(lb_out), "req/s");
  rep.figure("outstanding_5000_peak_rss", lbb::median(rss_peak), "MiB");
  rep.figure("outstanding_5000_rss_at_start", lbb::median(rss_start), "MiB");
  rep.figure("errors_all_contenders",
             static_cast<double>(lb_errors + curl_errors + out_errors + py_errors + wrk_errors),
             "responses");
  rep.ratio("get_1k_loopbridge_over_raw_curl_multi", lb / raw);
  rep.ratio("get_1k_loopbridge_over_raw_curl_multi_per_run_median", lbb::median(paired));
  rep.ratio("get_1k_loopbridge_over_raw_curl_multi_parsed_url", lb / rawu);
  if (py_ok)
    rep.ratio("get_1k_loopbridge_over_python_aiohttp", lb / py_rate);
  if (wrk_ok)
    rep.ratio("get_1k_loopbridge_over_wrk", lb / wrk);
  rep.ratio("get_1k_io_thread_cpu_over_raw_loop", io_over_raw);
  rep.ratio("get_100k_loopbridge_over_raw_curl_multi", med.lb / med.raw);
  rep.ratio("get_100k_loopbridge_over_raw_curl_multi_by_cpu", med.raw_cpu / med.lb_cpu);
  rep.ratio("get_1m_loopbridge_over_raw_curl_multi", lrg.lb / lrg.raw);
  rep.ratio("get_1m_loopbridge_over_raw_curl_multi_by_cpu", lrg.raw_cpu / lrg.lb_cpu);
  rep.require("1 KiB GETs: loopbridge >= 0.85x raw libcurl multi", lb / raw >= 0.85);
  rep.require("1 KiB GETs: the fetcher's I/O thread CPU per request <= 1.1x the raw loop's",
              io_over_raw <= 1.1);
  rep.require("1 KiB GETs: loopbridge >= 5x Python aiohttp", py_ok && lb / py_rate >= 5);
  rep.require("100 KiB GETs: loopbridge >= 0.85x raw libcurl multi", med.lb / med.raw >= 0.85);
  rep.require("100 KiB GETs by CPU per request: >= 0.80x the raw loop",
              med.raw_cpu / med.lb_cpu >= 0.80);
  rep.require("1 MiB GETs: loopbridge >= 0.8x raw libcurl multi", lrg.lb / lrg.raw >= 0.8);
  rep.require("1 MiB GETs by CPU per request: >= 0.75x the raw loop",
              lrg.raw_cpu / lrg.lb_cpu >= 0.75);
  rep.require("5,000 outstanding: peak RSS <= 64 MiB + 2 x 5,000 x 1 KiB",
              lbb::median(rss_peak) <= rss_limit);
  rep.require("every response of every contender checked, zero errors",
              py_ok && wrk_ok &&
                  lb_errors + curl_errors + out_errors + py_errors + wrk_errors == 0);
  rep.print();
  curl_global_cleanup();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
