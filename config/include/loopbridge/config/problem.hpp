#pragma once

#include <string>

namespace loopbridge::config {

/// One thing wrong with a topology or scenario file: where (file, 1-based line and column), the
/// key path (`actors[1].params.delay`), what is wrong, and a hint (a did-you-mean, the allowed
/// values or range).
///
/// Threads: a plain value, not synchronised; copy it to hand it to another thread.
struct problem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string path;
  std::string message;
  std::string hint;

  /// `file:line:column: path: message (hint)`: one printable line (control characters as
  /// `\xNN`, each part bounded), whatever the input held.
  std::string to_string() const;
};

} // namespace loopbridge::config
