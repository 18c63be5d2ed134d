#include "loopbridge/actors/writer.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace loopbridge::actors {

namespace {

/// Closes a descriptor at scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

/// Splits `path` into components; false (and why) if it is not a plain relative path.
bool split(const std::string& path, std::vector<std::string>& parts, std::string& why) {
  if (path.empty()) {
    why = "empty path";
    return false;
  }
  if (path.find('\0') != std::string::npos) {
    why = "NUL byte in path";
    return false;
  }
  if (path[0] == '/') {
    why = "absolute path '" + path + "'";
    return false;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    auto part = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part == "..") {
      why = "'..' in path '" + path + "'";
      return false;
    }
    if (!part.empty() && part != ".")
      parts.push_back(part);
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  if (parts.empty()) {
    why = "path '" + path + "' names no file";
    return false;
  }
  return true;
}

} // namespace

std::vector<param_decl> writer::params() {
  using d = param_decl;
  return {
      d::string("root", "", "the directory every path is relative to").mandatory(),
      d::boolean("create_dirs", true, "create missing directories (the root included)"),
      d::boolean("fsync", false, "flush each file to disk before replying"),
  };
}

writer_worker::writer_worker(worker_context& ctx)
    : create_dirs_(ctx.params().boolean("create_dirs")), // resolved: defaults filled in
      fsync_(ctx.params().boolean("fsync")) {
  auto root = ctx.params().string("root");
  if (create_dirs_) {
    // mkdir -p for the root itself (it is configuration, not request input).
    for (std::size_t pos = 1; pos != std::string::npos;) {
      pos = root.find('/', pos + 1);
      auto prefix = root.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error(errno_text("cannot create " + prefix));
    }
  }
  root_fd_ = ::open(root.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (root_fd_ < 0)
    throw std::runtime_error(errno_text("cannot open root directory " + root));
}

writer_worker::~writer_worker() {
  if (root_fd_ >= 0)
    ::close(root_fd_);
}

void writer_worker::handle(write_request& req, responder<write_reply>& r) {
  std::vector<std::string> parts;
  std::string why;
  if (!split(req.path, parts, why)) {
    r.fail(error{write_errc::path_escape, "refused: " + why});
    return;
  }
  // Walk the directories one by one without following symbolic links: every step stays
  // beneath the root.
  int dir = root_fd_;
  fd_guard owned;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (create_dirs_ && ::mkdirat(dir, parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
      r.fail(error{write_errc::io, errno_text("cannot create directory " + parts[i])});
      return;
    }
    int next = ::openat(dir, parts[i].c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        r.fail(error{write_errc::path_escape,
                     "refused: '" + parts[i] + "' in '" + req.path + "' is not a plain directory"});
      else
        r.fail(error{write_errc::io, errno_text("cannot open directory " + parts[i])});
      return;
    }
    if (owned.fd >= 0)
      ::close(owned.fd);
    owned.fd = next;
    dir = next;
  }
  const auto& name = parts.back();
  struct stat existing {};
  if (::fstatat(dir, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(existing.st_mode)) {
      r.fail(error{write_errc::path_escape, "refused: '" + req.path + "' is a symbolic link"});
      return;
    }
    if (!req.overwrite) {
      r.fail(error{write_errc::exists, "'" + req.path + "' exists"});
      return;
    }
  }
  // Write a temporary file beside the target, then rename: readers never see half a file.
  auto tmp = "." + name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter_);
  fd_guard file{
      ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)};
  if (file.fd < 0) {
    r.fail(error{write_errc::io, errno_text("cannot create " + req.path)});
    return;
  }
  std::size_t done = 0;
  while (done < req.data.size()) {
    auto n = ::write(file.fd, req.data.data() + done, req.data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto e = errno_text("cannot write " + req.path);
      ::unlinkat(dir, tmp.c_str(), 0);
      r.fail(error{write_errc::io, e});
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync_ && ::fsync(file.fd) != 0) {
    auto e = errno_text("cannot flush " + req.path);
    ::unlinkat(dir, tmp.c_str(), 0);
    r.fail(error{write_errc::io, e});
    return;
  }
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    auto e = errno_text("cannot rename into " + req.path);
    ::unlinkat(dir, tmp.c_str(), 0);
    r.fail(error{write_errc::io, e});
    return;
  }
  r.reply(write_reply{req.path, done});
}

} // namespace loopbridge::actors
