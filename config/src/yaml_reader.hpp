#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"
#include "loopbridge/value.hpp"

namespace loopbridge::config::detail {

/// The YAML side of loading a file, shared by the topology and scenario loaders: guarded
/// parsing (size, UTF-8, emptiness, syntax, nesting, alias expansion) and typed readers that
/// record a located problem instead of throwing. Never throws. Not thread-safe (one per load).
class yaml_reader {
public:
  yaml_reader(std::string file, load_limits limits, std::vector<problem>& problems);

  /// The file's single document, or nothing (and a problem) when it cannot be used.
  std::optional<YAML::Node> parse(std::string_view text);

  // -- problems --------------------------------------------------------------------------------
  void add(const YAML::Mark& at, std::string path, std::string message, std::string hint = {});
  void add(const YAML::Node& at, std::string path, std::string message, std::string hint = {}) {
    add(at.Mark(), std::move(path), std::move(message), std::move(hint));
  }
  std::size_t problem_count() const noexcept { return problems_.size(); }
  const std::string& file() const noexcept { return file_; }

  // -- shapes ----------------------------------------------------------------------------------
  /// True if `n` is a map; otherwise reports "expected <what>".
  bool expect_map(const YAML::Node& n, const std::string& path, const std::string& what);
  bool expect_list(const YAML::Node& n, const std::string& path, const std::string& what);
  /// The entries of map `n` in file order, reporting unknown keys (with a did-you-mean against
  /// `allowed`), duplicate keys and non-string keys; unknown and duplicate entries are left out.
  std::vector<std::pair<std::string, YAML::Node>>
  entries(const YAML::Node& n, const std::string& path, const std::vector<std::string>& allowed);
  /// Reports `key` missing from map `n` if `present` is false.
  void require(bool present, const YAML::Node& n, const std::string& path, const std::string& key);

  // -- scalars ---------------------------------------------------------------------------------
  std::optional<std::string> string(const YAML::Node& n, const std::string& path);
  std::optional<std::int64_t> integer(const YAML::Node& n, const std::string& path,
                                      std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(const YAML::Node& n, const std::string& path);
  /// A duration (`250ms`, `5s`); zero only if `allow_zero`.
  std::optional<value::duration> duration(const YAML::Node& n, const std::string& path,
                                          bool allow_zero);
  std::optional<std::string> choice(const YAML::Node& n, const std::string& path,
                                    const std::vector<std::string>& choices);
  /// A list of strings, or a single string as a list of one.
  std::optional<std::vector<std::string>> string_list(const YAML::Node& n, const std::string& path);

  // -- free-form values ------------------------------------------------------------------------
  /// Converts any node to a value tree (scalars typed by the YAML core schema: null, booleans,
  /// integers, floats, otherwise strings; quoted scalars stay strings), recording the mark of
  /// every path for later messages. Bounded by the nesting and node limits.
  value to_value(const YAML::Node& n, const std::string& path);
  /// The mark of `path` as recorded by `to_value`, or of its nearest recorded parent.
  YAML::Mark mark_of(const std::string& path) const;

  /// A short description of a node for messages: `"5x"`, `a map`, `a list`.
  static std::string describe(const YAML::Node& n);

private:
  value convert(const YAML::Node& n, const std::string& path, int depth);

  std::string file_;
  load_limits limits_;
  std::vector<problem>& problems_;
  std::map<std::string, YAML::Mark> marks_;
  std::size_t nodes_ = 0;
  /// Nodes `to_value` may visit in this document: `limits.max_nodes`, and no more than a
  /// multiple of the text's size (see `parse`), so a few hundred bytes of aliases cannot cost
  /// seconds before they are refused.
  std::size_t node_cap_ = 0;
  bool node_limit_reported_ = false;
};

/// Joins a path and a key: `actors[0]` + `name` -> `actors[0].name`.
/// `path.key`, the key made printable (keys are user text and paths are echoed in messages).
inline std::string join(const std::string& path, const std::string& key) {
  auto shown = printable(key);
  return path.empty() ? shown : path + "." + shown;
}
inline std::string index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

} // namespace loopbridge::config::detail
