#include "image/image_failure.hpp"

#include <memory>

#include <vips/vips.h>

#include "loopbridge/log.hpp"

namespace loopbridge::actors::detail {

void log_vips_errors(const char* stage) {
  // Copy and empty the buffer in one step, under libvips' lock.
  std::unique_ptr<char, void (*)(void*)> text{vips_error_buffer_copy(), &g_free};
  if (text && *text)
    LB_LOG(debug, "image",
           "a request failed in its " << stage
                                      << " stage; libvips' error buffer (shared by every request "
                                         "in the process, so perhaps another's): "
                                      << text.get());
}

} // namespace loopbridge::actors::detail
