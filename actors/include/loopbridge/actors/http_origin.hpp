#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// A fault the origin injects into responses whose path matches `path` (a glob: `*`, `?`).
struct origin_fault {
  std::string path = "*";
  /// Wait this long before answering (plus a random part up to `jitter`).
  std::chrono::nanoseconds delay{0};
  std::chrono::nanoseconds jitter{0};
  /// Answer with this status code instead of the file (0: no).
  std::int64_t status = 0;
  /// With `status`: the Location header (a redirect).
  std::string location;
  /// Send only this many body bytes, then close (Content-Length announces the whole file).
  std::int64_t truncate = -1;
  /// Close the connection halfway through the body.
  bool drop = false;
  /// Send the body at this many bytes per second (0: full speed).
  std::int64_t trickle = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, origin_fault& x) {
    return f(caf::meta::type_name("origin_fault"), field("path"), x.path, field("delay"), x.delay,
             field("jitter"), x.jitter, field("status"), x.status, field("location"), x.location,
             field("truncate"), x.truncate, field("drop"), x.drop, field("trickle"), x.trickle);
  }
};

/// What an origin reports about itself.
struct origin_info {
  std::int64_t port = 0;
  /// `http://127.0.0.1:PORT` (or https).
  std::string url;
  /// Requests and connections it accepted so far.
  std::uint64_t requests = 0;
  std::uint64_t connections = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, origin_info& x) {
    return f(caf::meta::type_name("origin_info"), field("port"), x.port, field("url"), x.url,
             field("requests"), x.requests, field("connections"), x.connections);
  }
};

struct origin_info_request {
  using reply_type = origin_info;
  template <class Inspector>
  friend auto inspect(Inspector& f, origin_info_request&) {
    return f(caf::meta::type_name("origin_info_request"));
  }
};

/// Replaces (or, with `replace: false`, extends) the origin's faults at run time.
struct set_faults_request {
  using reply_type = origin_info;
  std::vector<origin_fault> faults;
  bool replace = true;
  template <class Inspector>
  friend auto inspect(Inspector& f, set_faults_request& x) {
    return f(caf::meta::type_name("set_faults_request"), field("faults"), x.faults,
             field("replace"), x.replace);
  }
};

class http_origin_worker;

/// The `http_origin` kind: an embedded static-file HTTP server (libmicrohttpd) for the demo and
/// the tests, bound to 127.0.0.1 by default on a given or ephemeral port (announced in its
/// `ready` event as `info.port`). It serves the regular files of a directory and its
/// subdirectories: paths that climb out of it are refused (403), and no symbolic link below it
/// is followed (404, as the writer refuses them). It injects faults per path pattern, from its
/// params or at run time (`set_faults`).
///
/// One thread serves every connection (an epoll loop driving libmicrohttpd; delays and trickled
/// bodies suspend their connection, they hold up no other). It serves up to `max_connections`
/// at once (raising the process's open-file limit to the hard limit if that needs it); a client
/// beyond them waits to be accepted until a connection closes — none is reset.
///
/// Params: `root`, `port` (0: ephemeral), `address`, `faults` (a list of fault maps),
/// `max_connections`, `tls_cert` and `tls_key` (PEM files: serve https).
struct http_origin {
  static constexpr const char* name = "http_origin";
  using requests = request_list<origin_info_request, set_faults_request>;
  using worker = http_origin_worker;
  static std::vector<param_decl> params();
  static std::vector<param_problem> validate(const loopbridge::params& p);
  static loopbridge::execution execution(const loopbridge::params&) {
    return loopbridge::execution::dedicated_thread; // stopping the server joins its threads
  }
};

class http_origin_worker final : public loopbridge::worker {
public:
  explicit http_origin_worker(worker_context& ctx);
  ~http_origin_worker() override;
  void handle(origin_info_request& req, responder<origin_info>& r);
  void handle(set_faults_request& req, responder<origin_info>& r);

  struct state; ///< shared with the server's threads

private:
  origin_info info() const;
  std::shared_ptr<state> state_;
};

} // namespace loopbridge::actors
