// A host program: loads the topology file, starts its actors, greets through the pool and prints
// the replies. Run it from this folder (`build/hello greeters.yaml`).
#include <cstdio>

#include "greeter.hpp"
#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/config/loader.hpp"
#include "loopbridge/groups.hpp"
#include "loopbridge/runtime.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  auto kinds = loopbridge::actors::builtin_kinds();
  kinds.add<greeter>("greets people");
  auto loaded = loopbridge::config::load(argc > 1 ? argv[1] : "greeters.yaml", kinds);
  if (!loaded) {
    std::fputs(loaded.report().c_str(), stderr); // every problem, file:line:column
    return 2;
  }
  loopbridge::runtime rt{kinds, *loaded.topology}; // starts every actor; the destructor stops
  auto french = rt.actor<greeter>("french").value();
  std::vector<loopbridge::future<greeting>> replies;
  for (auto name : {"Ada", "Grace", "Barbara"})
    replies.push_back(french.submit(greet_request{name}, 2s)); // never blocks
  auto all = loopbridge::gather(std::move(replies), 5s);       // in order, or the first failure
  if (!all) {
    std::fprintf(stderr, "hello: %s\n", all.failure().error.message().c_str());
    return 1;
  }
  for (auto& g : all.values())
    std::printf("%s\n", g.text.c_str());
  auto empty = rt.actor<greeter>("english").value().call(greet_request{""}, 2s);
  std::printf("an empty name: %s\n", empty.error().name().c_str());
  return 0;
}
