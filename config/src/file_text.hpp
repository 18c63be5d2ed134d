#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loopbridge/config/loader.hpp"
#include "loopbridge/config/problem.hpp"

namespace loopbridge::config::detail {

/// The text of the file at `path`, read through one bounded path shared by the topology and
/// scenario loaders. Reads at most `limits.max_bytes + 1` bytes whatever the file is (a regular
/// file, a pipe, a device), so a huge or endless input costs no more than the limit. When the file
/// cannot be used it returns nothing and appends exactly one problem: it cannot be opened (with
/// the system's reason), it is a directory, or it is larger than the limit. Never throws; any
/// thread may call it.
std::optional<std::string> read_file(const std::string& path, const load_limits& limits,
                                     std::vector<problem>& problems);

} // namespace loopbridge::config::detail
