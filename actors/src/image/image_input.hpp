#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <vips/vips8>

#include "loopbridge/bytes.hpp"

#include "image/image_formats.hpp"
#include "image/jpeg_decoder.hpp"

namespace loopbridge::actors::detail {

/// Where one request's encoded input comes from: bytes in the request (borrowed: they must
/// outlive this object and every image loaded from it), or a file under the processor's
/// `files` directory. It opens the input for libvips' loaders and for the JPEG decoder; it
/// decodes nothing itself. Used by one thread at a time.
class image_input {
public:
  [[nodiscard]] static image_input bytes(const loopbridge::bytes& data);
  image_input(image_input&&) = default;
  image_input& operator=(image_input&&) = default;
  /// `path` is the file to read; `name` is how messages call it (the request's `input_path`).
  [[nodiscard]] static image_input file(std::string path, std::string name);

  /// How messages name the input: `the input`, or `input_path 'a/b.jpg'`.
  [[nodiscard]] std::string describe() const;
  /// The input's first `n` bytes (fewer if it is shorter).
  [[nodiscard]] std::vector<std::uint8_t> head(std::size_t n) const;
  /// Whether the input's last bytes are `tail`.
  [[nodiscard]] bool ends_with(const std::vector<std::uint8_t>& tail) const;
  /// The input's bytes followed by `more` (a file is read whole).
  [[nodiscard]] loopbridge::bytes with(const std::vector<std::uint8_t>& more) const;
  /// The same input, named the same, over other bytes (borrowed, as by `bytes`).
  [[nodiscard]] image_input over(const loopbridge::bytes& data) const;
  /// The format libvips recognises. Throws `image_failure` (`image.decode_failed`) when the
  /// input is empty or the file cannot be read.
  [[nodiscard]] identified_format identify() const;

  /// The image from the loader `identify` found (and no other), decoded lazily. Takes
  /// `options`. Throws `vips::VError`.
  [[nodiscard]] vips::VImage load(const identified_format& format, vips::VOption* options) const;
  /// libvips' thumbnail of the input: shrinks while decoding where the format allows, turns
  /// the image upright, and fails on any decoding error. Takes `options`. Throws
  /// `vips::VError`.
  [[nodiscard]] vips::VImage thumbnail(int width, vips::VOption* options) const;
  /// A JPEG decoder that has read the input's header. Throws `jpeg_error`.
  [[nodiscard]] jpeg_decoder open_jpeg() const;

private:
  image_input() = default;
  const loopbridge::bytes* bytes_ = nullptr;
  std::string path_;
  std::string name_;
  /// An open stream for the JPEG decoder (files only), closed with this object.
  mutable std::unique_ptr<std::FILE, int (*)(std::FILE*)> jpeg_file_{nullptr, &std::fclose};
};

} // namespace loopbridge::actors::detail
