#pragma once

#include <cstddef>

namespace loopbridge::actors {

/// Makes room for at least `wanted` open descriptors in this process, for kinds that hold a
/// socket per connection (`http_origin`, `fetcher`): if the soft RLIMIT_NOFILE is lower, it is
/// raised to the hard limit (as Go's runtime does when a program starts); it is never lowered.
/// Returns the soft limit in force afterwards, which is below `wanted` when the hard limit
/// is. (A limit above 1024 lets descriptors exceed FD_SETSIZE: nothing in loopbridge uses
/// select(); libcurl and libmicrohttpd are run with poll and epoll.)
///
/// Threads: any. The limit is the process's: concurrent callers only ever raise it.
std::size_t ensure_open_file_limit(std::size_t wanted);

} // namespace loopbridge::actors
