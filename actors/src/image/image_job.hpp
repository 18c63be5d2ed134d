#pragma once

#include <string>

#include "loopbridge/actors/image_processor.hpp"

namespace loopbridge::actors::detail {

/// An image request that passed its checks, with the processor's defaults filled in (`ops`,
/// `format`, `quality`) and its paths resolved under the `files` directory.
struct image_job {
  image_request req;
  /// The output format (`jpeg`, `png`, `webp`), or empty: the input's.
  std::string format;
  /// The file to read, or empty: the input is `req.input`.
  std::string in_path;
  /// The file to write, or empty: the result goes into the reply.
  std::string out_path;

  /// Checks `req` (throws `image_failure` with `loop.bad_request`) and fills in `settings`'
  /// defaults. An empty `input` without `input_path` is an empty input, left to the decoder.
  [[nodiscard]] static image_job prepare(image_request req, const image_settings& settings);

  /// Whether the chain starts with a thumbnail (which may shrink while decoding).
  [[nodiscard]] bool leading_thumbnail() const noexcept;
};

/// The output format's canonical name, from a request's `format` or a loader's name; empty
/// if it is none of `jpeg`, `png`, `webp`.
[[nodiscard]] std::string canonical_format(const std::string& f);

} // namespace loopbridge::actors::detail
