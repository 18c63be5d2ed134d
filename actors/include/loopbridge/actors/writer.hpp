#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "loopbridge/bytes.hpp"
#include "loopbridge/field.hpp"
#include "loopbridge/kind.hpp"
#include "loopbridge/worker.hpp"

namespace loopbridge::actors {

/// Error kinds of the writer (`write.*`).
namespace write_errc {
/// The path is absolute, climbs out with `..`, or goes through a symbolic link.
inline constexpr error_code path_escape{"write", "path_escape"};
/// The file exists and the request said not to overwrite it.
inline constexpr error_code exists{"write", "exists"};
/// The file system refused (permissions, disk full, ...): the message carries the reason.
inline constexpr error_code io{"write", "io"};
} // namespace write_errc

/// Where the bytes went.
struct write_reply {
  /// The path written, relative to the writer's root.
  std::string path;
  std::uint64_t bytes = 0;

  template <class Inspector>
  friend auto inspect(Inspector& f, write_reply& x) {
    return f(caf::meta::type_name("write_reply"), field("path"), x.path, field("bytes"), x.bytes);
  }
};

/// Writes `data` to `path`, relative to the writer's root directory.
struct write_request {
  using reply_type = write_reply;
  std::string path;
  bytes data;
  /// Replace an existing file (atomically: readers see the old or the new file, never half).
  bool overwrite = true;

  template <class Inspector>
  friend auto inspect(Inspector& f, write_request& x) {
    return f(caf::meta::type_name("write_request"), field("path"), x.path, field("data"), x.data,
             field("overwrite"), x.overwrite);
  }
};

class writer_worker;

/// The `writer` kind: writes bytes to files under a configured directory and refuses any path
/// that would escape it (absolute paths, `..`, symbolic links). Ends pipelines that produce
/// files. Runs on a dedicated thread (file I/O blocks).
///
/// Params: `root` (the directory; created at start when `create_dirs`), `create_dirs` (create
/// missing directories), `fsync` (flush each file to disk before replying).
struct writer {
  static constexpr const char* name = "writer";
  using requests = request_list<write_request>;
  using worker = writer_worker;
  static std::vector<param_decl> params();
  static loopbridge::execution execution(const loopbridge::params&) {
    return loopbridge::execution::dedicated_thread;
  }
};

class writer_worker final : public loopbridge::worker {
public:
  explicit writer_worker(worker_context& ctx);
  ~writer_worker() override;
  void handle(write_request& req, responder<write_reply>& r);

private:
  int root_fd_ = -1;
  bool create_dirs_;
  bool fsync_;
  std::uint64_t counter_ = 0;
};

} // namespace loopbridge::actors
