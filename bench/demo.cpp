// bench/demo: `loopbridge demo --count N` (the whole pipeline: origin -> fetcher -> thumbnail
// pool -> writer, run as users run it) beside each of its stages measured alone in this process
// with the demo's settings, in the same run. The pipeline cannot beat its slowest stage; the
// ratio says how much of that stage's throughput the pipeline keeps.
//
// usage: demo [--quick]
#include <cstdio>
#include <deque>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <stdlib.h>

#include "bench_paths.hpp"
#include "bench_report.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/actors/image_processor.hpp"
#include "loopbridge/actors/writer.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using namespace loopbridge::actors;
namespace lbb = loopbridge::bench;

namespace {

constexpr int image_count = 50;    // the demo's source images
constexpr std::size_t window = 64; // the demo's workload concurrency

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Items/s for `total` requests made by `submit(i)` with `window` in flight from this thread;
/// aborts on a failed request (a benchmark of failures measures nothing).
template <class Submit>
double windowed(std::size_t total, Submit submit) {
  using fut = decltype(submit(std::size_t{0}));
  std::deque<fut> inflight;
  std::size_t sent = 0;
  auto t0 = lbb::clock::now();
  while (sent < total && inflight.size() < window)
    inflight.push_back(submit(sent++));
  while (!inflight.empty()) {
    auto r = inflight.front().get();
    if (!r) {
      std::fprintf(stderr, "request failed: %s\n", r.error().message().c_str());
      std::abort();
    }
    inflight.pop_front();
    if (sent < total)
      inflight.push_back(submit(sent++));
  }
  return static_cast<double>(total) / lbb::seconds_since(t0);
}

/// `loopbridge demo` as a user runs it; its workload throughput from the JSON summary.
double demo_pipeline(const std::string& dir, std::size_t count) {
  std::string cmd = lbb::cli_program() + " demo --quiet --count " + std::to_string(count) +
                    " --images " + dir + "/images --out " + dir + "/out --json " + dir +
                    "/summary.json > " + dir + "/demo.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "the demo failed:\n%s", slurp(dir + "/demo.log").c_str());
    std::abort();
  }
  std::smatch m;
  auto json = slurp(dir + "/summary.json");
  if (!std::regex_search(json, m, std::regex{"\"throughput_per_s\": ([0-9.e+]+)"}))
    std::abort();
  return std::stod(m[1]);
}

/// The fetcher alone: the same GETs against the same origin, 64 in flight.
double fetch_alone(const std::string& dir, std::size_t count) {
  runtime rt{builtin_kinds()};
  rt.spawn("origin", "http_origin", {{"root", dir + "/images"}}).value();
  rt.spawn("fetcher", "fetcher", {{"max_connections", 16}}).value();
  auto url = rt.actor<http_origin>("origin")->call(origin_info_request{}, 10s).value().url;
  auto f = rt.actor<fetcher>("fetcher").value();
  return windowed(count, [&](std::size_t i) {
    auto req = fetch_request::get(url + "/img-" + std::to_string(i % image_count) + ".jpg");
    req.raise_for_status = true;
    return f.submit(std::move(req));
  });
}

/// The thumbnail pool alone: the same images from memory, the demo's operations.
double thumbnails_alone(const std::vector<bytes>& images, std::size_t count) {
  runtime rt{builtin_kinds()};
  actor_spec s;
  s.name = "thumbnails";
  s.kind = "image_processor";
  s.mailbox.capacity = 64;
  s.params = value{{"ops", value{value::list{value{{"op", "thumbnail"}, {"width", 256}}}}},
                   {"format", "jpeg"},
                   {"quality", 80}};
  rt.spawn(s).value();
  auto p = rt.actor<image_processor>("thumbnails").value();
  return windowed(count, [&](std::size_t i) {
    image_request req;
    req.input = images[i % images.size()];
    return p.submit(std::move(req));
  });
}

/// The writer alone: thumbnail-sized files, each under its own name.
double writer_alone(const std::string& dir, const bytes& thumb, std::size_t count) {
  runtime rt{builtin_kinds()};
  rt.spawn("writer", "writer", {{"root", dir + "/written"}}).value();
  auto w = rt.actor<writer>("writer").value();
  return windowed(count, [&](std::size_t i) {
    write_request req;
    req.path = "thumb-" + std::to_string(i) + ".jpg";
    req.data = thumb;
    return w.submit(std::move(req));
  });
}

} // namespace

int main(int argc, char** argv) {
  bool quick = lbb::quick_mode(argc, argv);
  int runs = quick ? 2 : 3;
  std::size_t count = quick ? 300 : 2000;
  char tmpl[] = "/tmp/loopbridge-bench-demo-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);

  // The first demo run generates the source images (not timed: its figure is discarded).
  demo_pipeline(dir, 1);
  std::vector<bytes> images;
  for (int i = 0; i < image_count; ++i) {
    auto text = slurp(dir + "/images/img-" + std::to_string(i) + ".jpg");
    images.emplace_back(text.begin(), text.end());
  }
  auto thumb_text = slurp(dir + "/out/thumb-0.jpg");
  bytes thumb(thumb_text.begin(), thumb_text.end());
  std::printf(
      "demo: %zu requests per run over %d images (%zu KB on average), %zu in flight, "
      "%d runs%s\n",
      count, image_count,
      [&] {
        std::size_t n = 0;
        for (auto& b : images)
          n += b.size();
        return n / images.size() / 1024;
      }(),
      window, runs, quick ? " (quick)" : "");

  std::vector<double> pipeline, fetch, thumbs, write;
  for (int run = 0; run < runs; ++run) {
    pipeline.push_back(demo_pipeline(dir, count));
    fetch.push_back(fetch_alone(dir, count));
    thumbs.push_back(thumbnails_alone(images, count));
    write.push_back(writer_alone(dir, thumb, count));
    std::printf("run %d: demo %.1f/s | alone: fetch %.0f/s, thumbnails %.1f/s, write %.0f/s\n",
                run + 1, pipeline.back(), fetch.back(), thumbs.back(), write.back());
    std::fflush(stdout);
  }
  double p = lbb::median(pipeline), f = lbb::median(fetch), t = lbb::median(thumbs),
         w = lbb::median(write);
  double slowest = std::min({f, t, w});
  const char* slowest_name = slowest == t ? "thumbnails" : slowest == f ? "fetch" : "write";
  std::printf("\n%-52s %10s\n", "medians", "items/s");
  std::printf("%-52s %10.1f\n", "loopbridge demo (fetch -> thumbnail -> write)", p);
  std::printf("%-52s %10.1f\n", "fetch alone (one session, 16 connections)", f);
  std::printf("%-52s %10.1f\n", "thumbnails alone (image_processor pool)", t);
  std::printf("%-52s %10.1f\n", "write alone (writer)", w);
  std::printf("slowest stage alone: %s; the pipeline keeps %.0f%% of it\n", slowest_name,
              100 * p / slowest);

  lbb::report rep;
  rep.require("the pipeline keeps >= 90% of its slowest stage alone", p / slowest >= 0.9);
  rep.figure("demo_pipeline", p, "items/s");
  rep.figure("demo_fetch_alone", f, "items/s");
  rep.figure("demo_thumbnails_alone", t, "items/s");
  rep.figure("demo_write_alone", w, "items/s");
  rep.ratio("demo_pipeline_over_slowest_stage", p / slowest);
  rep.print();
  std::string cleanup = "rm -rf " + dir;
  (void)std::system(cleanup.c_str());
  return 0;
}
