#pragma once

#include <string>

#include "loopbridge/actors/image_processor.hpp"

namespace loopbridge::actors::detail {

/// A failed image request: its error kind and message. The stages of `process_image` throw it;
/// `process_image` catches it and returns the error, so it never leaves the image processor.
struct image_failure {
  error e;
};

/// Ends the request with `kind` and `message`.
[[noreturn]] inline void fail(error_code kind, std::string message) {
  throw image_failure{error{kind, std::move(message)}};
}

/// Ends a malformed request (`loop.bad_request`).
[[noreturn]] inline void refuse(std::string message) {
  fail(errc::bad_request, std::move(message));
}

/// libvips' error text is one buffer for the whole process: under concurrency it may be empty
/// when a request reads it, or hold another request's errors, so no reply ever quotes it. This
/// takes the buffer's text (and empties it) for loopbridge's debug log, labelled as possibly
/// another request's, so an operator still sees what libvips said. Any thread may call it.
void log_vips_errors(const char* stage);

} // namespace loopbridge::actors::detail
