#include "loopbridge/config/problem.hpp"

#include "loopbridge/config/loader.hpp"

namespace loopbridge::config {

std::string problem::to_string() const {
  std::string s = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty())
    s += path + ": ";
  s += message;
  if (!hint.empty())
    s += " (" + hint + ")";
  return s;
}

std::string load_result::report() const {
  std::string s;
  for (auto& p : problems)
    s += p.to_string() + "\n";
  return s;
}

} // namespace loopbridge::config
