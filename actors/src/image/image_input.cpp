#include "image/image_input.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_failure.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors::detail {

namespace {

/// A vips blob that owns nothing: it points at the request's bytes, which outlive it.
struct borrowed_blob {
  VipsBlob* blob;
  explicit borrowed_blob(const loopbridge::bytes& bytes)
      : blob(vips_blob_new(nullptr, bytes.data(), bytes.size())) {}
  ~borrowed_blob() { vips_area_unref(VIPS_AREA(blob)); }
  borrowed_blob(const borrowed_blob&) = delete;
  borrowed_blob& operator=(const borrowed_blob&) = delete;
};

/// Closes a descriptor at scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

image_input image_input::bytes(const loopbridge::bytes& data) {
  image_input in;
  in.bytes_ = &data;
  return in;
}

image_input image_input::file(std::string path, std::string name) {
  image_input in;
  in.path_ = std::move(path);
  in.name_ = std::move(name);
  return in;
}

std::string image_input::describe() const {
  return name_.empty() ? "the input" : "input_path " + quote(name_);
}

image_input image_input::over(const loopbridge::bytes& data) const {
  image_input in;
  in.bytes_ = &data;
  in.name_ = name_;
  return in;
}

bool image_input::ends_with(const std::vector<std::uint8_t>& tail) const {
  if (bytes_)
    return bytes_->size() >= tail.size() &&
           std::equal(tail.begin(), tail.end(),
                      bytes_->end() - static_cast<std::ptrdiff_t>(tail.size()));
  std::vector<std::uint8_t> last(tail.size());
  fd_guard f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || st.st_size < static_cast<off_t>(tail.size()))
    return false;
  return ::pread(f.fd, last.data(), last.size(), st.st_size - static_cast<off_t>(tail.size())) ==
             static_cast<ssize_t>(last.size()) &&
         last == tail;
}

loopbridge::bytes image_input::with(const std::vector<std::uint8_t>& more) const {
  loopbridge::bytes out;
  if (bytes_) {
    out = *bytes_;
  } else {
    std::ifstream in{path_, std::ios::binary};
    out.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
  }
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<std::uint8_t> image_input::head(std::size_t n) const {
  if (bytes_)
    return {bytes_->begin(),
            bytes_->begin() + static_cast<std::ptrdiff_t>(std::min(n, bytes_->size()))};
  std::vector<std::uint8_t> out(n);
  fd_guard f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  auto got = f.fd < 0 ? -1 : ::pread(f.fd, out.data(), n, 0);
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return out;
}

identified_format image_input::identify() const {
  if (bytes_) {
    if (bytes_->empty())
      fail(image_errc::decode_failed, "cannot decode the input: it is empty");
    return identify_buffer(bytes_->data(), bytes_->size());
  }
  fd_guard f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0)
    fail(image_errc::decode_failed,
         "cannot read " + describe() + ": " + std::string{std::strerror(errno)});
  char probe;
  auto got = ::read(f.fd, &probe, 1);
  if (got < 0)
    fail(image_errc::decode_failed,
         "cannot read " + describe() + ": " + std::string{std::strerror(errno)});
  if (got == 0)
    fail(image_errc::decode_failed, "cannot decode " + describe() + ": it is empty");
  return identify_file(path_);
}

vips::VImage image_input::load(const identified_format& format, vips::VOption* options) const {
  vips::VImage out;
  if (bytes_) {
    borrowed_blob blob{*bytes_}; // the loader takes its own reference
    vips::VImage::call(format.loader.c_str(), options->set("buffer", blob.blob)->set("out", &out));
  } else {
    vips::VImage::call(format.loader.c_str(),
                       options->set("filename", path_.c_str())->set("out", &out));
  }
  return out;
}

vips::VImage image_input::thumbnail(int width, vips::VOption* options) const {
  if (bytes_) {
    borrowed_blob blob{*bytes_};
    return vips::VImage::thumbnail_buffer(blob.blob, width,
                                          options->set("option_string", "fail_on=error"));
  }
  // libvips' thumbnail takes loader options in the file name.
  return vips::VImage::thumbnail((path_ + "[fail_on=error]").c_str(), width, options);
}

jpeg_decoder image_input::open_jpeg() const {
  jpeg_decoder decoder;
  if (bytes_) {
    decoder.read_header(bytes_->data(), bytes_->size());
    return decoder;
  }
  jpeg_file_.reset(std::fopen(path_.c_str(), "rbe"));
  if (!jpeg_file_)
    throw jpeg_error(std::string{"cannot open the file: "} + std::strerror(errno));
  decoder.read_header(jpeg_file_.get());
  return decoder;
}

} // namespace loopbridge::actors::detail
