#include <cstdio>
#include <string>

#include "command.hpp"
#include "demo_images.hpp"
#include "run_flags.hpp"
#include "topology_runner.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::cli {

extern const char* const demo_topology_yaml; // config/demo.yaml, embedded at build time

namespace {

constexpr int demo_image_count = 50;

const char* demo_usage_head = R"(usage: loopbridge demo [options]

Runs the demo pipeline (config/demo.yaml, embedded): an embedded HTTP origin serves 50 images
(generated into --images on the first run), one fetcher session downloads them concurrently, an
image_processor pool (one instance per core, plus one) makes thumbnails, and a writer stores
them in --out.
No network and no installed server are needed. Shows live progress, then a summary.

Options:
  --out DIR            where thumbnails are written (default: out)
  --images DIR         where the source images are kept (default: demo-images)
  --size PX            thumbnail width in pixels, 16 to 4096 (default: 256)
  --topology           print the embedded topology (a starting point for your own) and exit
)";

const char* demo_usage_tail = R"(
The count defaults to 200 requests (the 50 images, each fetched 4 times), 64 in flight.
Exit codes: 0 every thumbnail was written, 1 some failed, 2 bad arguments, 130 interrupted.
)";

void print_demo_usage(std::FILE* to, const command_env& env) {
  print_usage(to, (std::string{demo_usage_head} + run_flags_usage + demo_usage_tail).c_str(), env);
}

/// The actor spec named `name` in `topo` (the embedded file declares each one the demo sets).
actor_spec& actor_named(topology& topo, const std::string& name) {
  for (auto& a : topo.actors)
    if (a.name == name)
      return a;
  throw std::logic_error("the demo topology has no actor " + quote(name));
}

} // namespace

int demo_command(const std::vector<std::string>& args, const command_env& env) {
  block_interrupts(); // before any thread exists (libvips starts some while making images)
  if (wants_help(args)) {
    print_demo_usage(stdout, env);
    return exit_ok;
  }
  run_flags flags;
  std::string out_dir = "out";
  std::string images_dir = "demo-images";
  std::uint64_t size = 256;
  flag_reader r{args};
  while (r.next() && r.error().empty()) {
    if (read_run_flag(r, flags))
      continue;
    if (r.arg() == "--out") {
      if (auto v = r.value())
        out_dir = *v;
    } else if (r.arg() == "--images") {
      if (auto v = r.value())
        images_dir = *v;
    } else if (r.arg() == "--size") {
      if (auto n = r.number(16, 4096))
        size = *n;
    } else if (r.arg() == "--topology") {
      std::fputs(demo_topology_yaml, stdout);
      return exit_ok;
    } else {
      r.fail("unknown " + std::string{r.is_flag() ? "option" : "argument"} + " " + quote(r.arg()));
    }
  }
  if (!r.error().empty()) {
    std::fprintf(stderr, "%s demo: %s\n\n", env.program.c_str(), r.error().c_str());
    print_demo_usage(stderr, env);
    return exit_usage;
  }

  const auto& kinds = env.kinds;
  auto loaded = config::parse(demo_topology_yaml, kinds, "demo.yaml (embedded)");
  if (!loaded) { // a build defect, but say so plainly
    std::fputs(loaded.report().c_str(), stderr);
    return exit_usage;
  }
  auto topo = apply_run_flags(flags, std::move(*loaded.topology));
  actor_named(topo, "origin").params.as_map()["root"] = images_dir;
  actor_named(topo, "writer").params.as_map()["root"] = out_dir;
  actor_named(topo, "thumbnails").params.as_map()["ops"] =
      value{value::list{value{{"op", "thumbnail"}, {"width", size}}}};

  auto images = ensure_demo_images(images_dir, demo_image_count);
  if (!images.error.empty()) {
    std::fprintf(stderr, "%s demo: %s\n", env.program.c_str(), images.error.c_str());
    return exit_usage;
  }
  if (images.generated > 0 && !flags.quiet)
    std::printf("generated %d source images in %s/\n", images.generated, images_dir.c_str());

  run_settings settings;
  settings.title = "demo";
  settings.json_path = flags.json_path;
  settings.quiet = flags.quiet;
  settings.plain_interval = flags.progress_interval;
  int rc = run_topology(topo, kinds, settings);
  if (rc == exit_ok || rc == exit_failed)
    std::printf("thumbnails (%llu px wide) are in %s/\n", static_cast<unsigned long long>(size),
                out_dir.c_str());
  return rc;
}

} // namespace loopbridge::cli
