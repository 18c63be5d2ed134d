#pragma once

namespace loopbridge::actors::detail {

/// Whether libvips' calls into liborc that compile and free vector code are serialised by
/// loopbridge (see orc_serialiser.cpp): true when this process's global symbol lookup resolves
/// them to loopbridge's wrappers. A libvips bound to liborc directly (loaded with
/// `RTLD_DEEPBIND`, or with liborc linked into it statically) is not covered, and this cannot
/// tell. Any thread may call it; it does not block.
///
/// liborc 0.4.33 (Debian bookworm's) manages its executable code memory without a lock: two
/// threads compiling, or one compiling while another frees, can crash the process. libvips
/// compiles when it builds a resampler or a convolution and frees when the last image using it
/// goes away, on whichever thread drops it, so every thread using libvips is concerned.
bool orc_calls_serialised();

} // namespace loopbridge::actors::detail
