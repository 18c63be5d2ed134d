// libFuzzer target: the wire form's decoder on arbitrary bytes, as a node receives them from
// anyone. The first byte picks one built-in kind's request entry and whether the rest is read
// as its request or its reply. Decoding must never crash, throw, leak, recurse without bound or
// allocate beyond what the input's size allows (-rss_limit_mb); what decodes must encode again
// and decode to the same bytes. `--write-seeds DIR` writes one valid encoding of each request
// and reply type there and exits (scripts/fuzz seeds its corpus with them).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"

namespace {

using loopbridge::request_entry;

const std::vector<const request_entry*>& entries() {
  static const loopbridge::kind_registry kinds = loopbridge::actors::builtin_kinds();
  static const std::vector<const request_entry*> all = [] {
    std::vector<const request_entry*> out;
    for (auto& name : kinds.names())
      for (auto& r : kinds.find(name)->requests)
        if (r.decode_request)
          out.push_back(&r);
    return out;
  }();
  return all;
}

/// One seed per request type whose fields all have defaults (made through its YAML
/// converter), and an echo request with a nested payload; each after its selector byte.
void write_seeds(const std::string& dir) {
  auto& all = entries();
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::vector<loopbridge::field_problem> problems;
    auto st = all[i]->from_value(loopbridge::value::map{}, problems);
    if (!st)
      continue;
    std::vector<char> bytes{static_cast<char>(2 * i)};
    (void)all[i]->encode_request(*st, bytes);
    std::ofstream{dir + "/request-" + std::to_string(i), std::ios::binary}.write(
        bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  loopbridge::actors::echo_request echo;
  echo.payload = loopbridge::value{{"list", loopbridge::value::list{1, 2.5, "three", true}}};
  std::vector<char> bytes{0};
  (void)loopbridge::detail::wire_encode(echo, bytes);
  std::ofstream{dir + "/echo-payload", std::ios::binary}.write(
      bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i + 1 < *argc; ++i)
    if (std::strcmp((*argv)[i], "--write-seeds") == 0) {
      write_seeds((*argv)[i + 1]);
      std::exit(0);
    }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& all = entries();
  if (size == 0 || all.empty())
    return 0;
  auto pick = data[0] % (2 * all.size());
  auto* entry = all[pick / 2];
  auto* bytes = reinterpret_cast<const char*>(data + 1);
  if (pick % 2 == 0) {
    auto st = entry->decode_request(bytes, size - 1);
    if (!st) {
      if (st.error().message().empty())
        __builtin_trap();
      return 0;
    }
    std::vector<char> again;
    if (!entry->encode_request(**st, again))
      __builtin_trap();
    auto twice = entry->decode_request(again.data(), again.size());
    std::vector<char> third;
    if (!twice || !entry->encode_request(**twice, third) || third != again)
      __builtin_trap();
    return 0;
  }
  // A reply is read into the state of a request of the same entry.
  std::vector<loopbridge::field_problem> problems;
  auto st = entry->from_value(loopbridge::value::map{}, problems);
  if (!st)
    return 0;
  if (auto read = entry->decode_reply(*st, bytes, size - 1)) {
    std::vector<char> again;
    if (!entry->encode_reply(*st, again))
      __builtin_trap();
  } else if (read.error().message().empty()) {
    __builtin_trap();
  }
  return 0;
}
