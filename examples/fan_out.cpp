// Actors that talk to each other: an aggregator kind whose handler asks three other actors at
// once — a cache of its own kind, the built-in fetcher (against the embedded HTTP origin) and an
// echo — and answers once all three replied, without ever blocking its thread.
//
// The model: one instance runs one message at a time. A continuation (`then`, `when_all`,
// `gather`) is a message too: it runs later on the same instance, never concurrently with its
// handlers, so the worker's members need no locks. A handler that moves its responder into a
// continuation answers later; meanwhile the instance serves other requests.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/runtime.hpp"

using namespace std::chrono_literals;
using namespace loopbridge;
using namespace loopbridge::actors;

// -- a cache: remembers one string per key -------------------------------------------------------

struct cache_reply {
  bool hit = false;
  std::string value;
};
struct cache_get {
  using reply_type = cache_reply;
  std::string key;
};
struct cache_put {
  using reply_type = cache_reply;
  std::string key, value;
};
class cache_worker;
struct cache {
  static constexpr const char* name = "cache";
  using requests = request_list<cache_get, cache_put>;
  using worker = cache_worker;
};
class cache_worker : public worker {
public:
  explicit cache_worker(worker_context&) {}
  void handle(cache_get& req, responder<cache_reply>& r) {
    auto it = entries_.find(req.key);
    r.reply(it == entries_.end() ? cache_reply{} : cache_reply{true, it->second});
  }
  void handle(cache_put& req, responder<cache_reply>& r) {
    entries_[req.key] = req.value;
    r.reply({true, req.value});
  }

private:
  std::map<std::string, std::string> entries_; // one instance, one message at a time: no lock
};

// -- the aggregator ------------------------------------------------------------------------------

struct summary {
  std::string cached;  ///< what the cache held for the key ("" on a miss)
  std::int64_t status; ///< the HTTP status of the page
  std::size_t bytes;   ///< its size
  std::string echoed;  ///< what the echo said
};
struct summarize {
  using reply_type = summary;
  std::string key;
  std::string url;
};
class aggregator_worker;
struct aggregator {
  static constexpr const char* name = "aggregator";
  using requests = request_list<summarize>;
  using worker = aggregator_worker;
};
class aggregator_worker : public worker {
public:
  // Handles are looked up once: a missing actor or a wrong kind is a start failure, with its
  // error (`loop.not_found`, `loop.wrong_kind`) in the `start_failed` event.
  explicit aggregator_worker(worker_context& ctx)
      : ctx_(ctx),
        cache_(ctx.actor<cache>("cache").value()),
        fetcher_(ctx.actor<fetcher>("fetcher").value()),
        echo_(ctx.actor<echo>("echo").value()) {}

  void handle(summarize& req, responder<summary>& r) {
    // Three requests at once; they inherit this request's context and remaining deadline, and
    // are cancelled if it is. `when_all` runs once all three resolved, with each outcome.
    ctx_.when_all(
        [this, key = req.key, r = std::move(r)](result<cache_reply> cached,
                                                result<fetch_reply> page,
                                                result<echo_reply> echoed) mutable {
          if (!page) { // a failure names the actor it came from
            r.fail(page.error());
            return;
          }
          summary s{cached && cached->hit ? cached->value : "", page->status, page->body.size(),
                    echoed ? echoed->payload.to_string() : echoed.error().to_string()};
          // Remember the size for next time; nobody waits for that answer.
          (void)ctx_.submit(cache_, cache_put{key, std::to_string(s.bytes)});
          r.reply(std::move(s));
        },
        ctx_.submit(cache_, cache_get{req.key}), ctx_.submit(fetcher_, fetch_request::get(req.url)),
        ctx_.submit(echo_, echo_request{req.key}));
  }

private:
  worker_context& ctx_;
  actor_handle<cache> cache_;
  actor_handle<fetcher> fetcher_;
  actor_handle<echo> echo_;
};

int main() {
  auto root = std::filesystem::temp_directory_path() / "loopbridge-fan-out";
  std::filesystem::create_directories(root);
  std::ofstream{root / "page.html"} << "<html><body>hello from the origin</body></html>\n";

  auto kinds = builtin_kinds();
  kinds.add<cache>();
  kinds.add<aggregator>();
  runtime rt{std::move(kinds)};
  auto spec = [](std::string name, std::string kind, value params = value::map{}) {
    actor_spec s;
    s.name = std::move(name);
    s.kind = std::move(kind);
    s.params = std::move(params);
    return s;
  };
  // The aggregator starts once the actors it asks are ready, and stops before them.
  auto aggregator_spec = spec("aggregator", "aggregator");
  aggregator_spec.depends_on = {"cache", "fetcher", "echo"};
  auto started = rt.start({spec("origin", "http_origin", value::map{{"root", root.string()}}),
                           spec("fetcher", "fetcher"), spec("cache", "cache"), spec("echo", "echo"),
                           aggregator_spec});
  if (!started) {
    std::fprintf(stderr, "start failed: %s\n", started.error().to_string().c_str());
    return 2;
  }
  auto url = rt.actor<http_origin>("origin")->call(origin_info_request{}, 5s).value().url;
  auto agg = rt.actor<aggregator>("aggregator").value();

  auto first = agg.call(summarize{"page", url + "/page.html"}, 5s);
  auto second = agg.call(summarize{"page", url + "/page.html"}, 5s);
  auto missing = agg.call(summarize{"gone", url + "/nothing-here"}, 5s);
  if (!first || !second) {
    std::fprintf(stderr, "failed: %s\n",
                 (!first ? first.error() : second.error()).to_string().c_str());
    return 1;
  }
  std::printf("first:  status %lld, %zu bytes, cache %s, echo %s\n",
              static_cast<long long>(first->status), first->bytes,
              first->cached.empty() ? "miss" : first->cached.c_str(), first->echoed.c_str());
  std::printf("second: status %lld, %zu bytes, cache %s, echo %s\n",
              static_cast<long long>(second->status), second->bytes,
              second->cached.empty() ? "miss" : second->cached.c_str(), second->echoed.c_str());
  std::printf("missing page: status %lld\n",
              missing ? static_cast<long long>(missing->status) : -1LL);
  std::filesystem::remove_all(root);
  // The second summary found the first one's size in the cache; a missing page is a 404.
  bool ok = first->status == 200 && first->cached.empty() &&
            second->cached == std::to_string(first->bytes) && missing && missing->status == 404;
  return ok ? 0 : 1;
}
