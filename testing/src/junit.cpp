// JUnit XML for CI systems, from scenario results.
#include <cstdio>

#include "loopbridge/testing/scenario_runner.hpp"

namespace loopbridge::testing {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

std::string testcase(const scenario_result& r) {
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", std::chrono::duration<double>(r.took).count());
  std::string out = "  <testcase classname=\"" + xml_escape(r.file) + "\" name=\"" +
                    xml_escape(r.title.empty() ? r.file : r.title) + "\" time=\"" + time + "\"";
  auto* f = r.first_failure();
  if (!f)
    return out + "/>\n";
  return out + ">\n    <failure message=\"" + xml_escape(f->label) + "\">" +
         xml_escape("at " + f->where + "\nexpected: " + f->expected + "\nactual: " + f->actual) +
         "</failure>\n  </testcase>\n";
}

} // namespace

std::string junit_xml(const std::vector<scenario_result>& results) {
  std::size_t failures = 0;
  double total = 0;
  for (auto& r : results) {
    failures += r.passed() ? 0 : 1;
    total += std::chrono::duration<double>(r.took).count();
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  char head[256];
  std::snprintf(head, sizeof head,
                "<testsuite name=\"loopbridge scenarios\" tests=\"%zu\" failures=\"%zu\" "
                "errors=\"0\" time=\"%.3f\">\n",
                results.size(), failures, total);
  out += head;
  for (auto& r : results)
    out += testcase(r);
  out += "</testsuite>\n";
  return out;
}

} // namespace loopbridge::testing
