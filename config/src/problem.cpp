#include "loopbridge/config/problem.hpp"

#include "loopbridge/config/loader.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::config {

namespace {

/// The longest a field of a problem's line may be; the quoted parts inside are shorter still
/// (loopbridge::quoted_max), so this only bounds what a message built from many of them holds.
constexpr std::size_t field_max = 4096;

} // namespace

std::string problem::to_string() const {
  // Every part is made printable once more: a problem is one bounded line whatever its parts
  // hold (printable() leaves text that is already printable unchanged).
  std::string s =
      printable(file, field_max) + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty())
    s += printable(path, field_max) + ": ";
  s += printable(message, field_max);
  if (!hint.empty())
    s += " (" + printable(hint, field_max) + ")";
  return s;
}

std::string load_result::report() const {
  std::string s;
  for (auto& p : problems)
    s += p.to_string() + "\n";
  return s;
}

} // namespace loopbridge::config
