// A transfer's URL and the libcurl callbacks that gather its reply: body bytes, header lines
// and the checks of its Content-Length.
#include "fetcher/fetch_transfer.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <string>

#include "fetcher/http_text.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors {

void fetch_session::transfer::set_url(const std::string& target, bool reconfigured) {
  if (url_parsed == target && !url_parsed.empty()) {
    if (reconfigured)
      curl_easy_setopt(easy, CURLOPT_CURLU, url);
    return;
  }
  url_parsed.clear();
  if (!url)
    url = curl_url();
  // The flags libcurl itself parses a string URL with (the session checked the scheme).
  if (url &&
      curl_url_set(url, CURLUPART_URL, target.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    url_parsed = target;
    // libcurl keeps the URL string it made from the previous contents of the same URL
    // handle (the effective URL it reports, and what it logs) until the string is cleared.
    curl_easy_setopt(easy, CURLOPT_URL, static_cast<char*>(nullptr));
    curl_easy_setopt(easy, CURLOPT_CURLU, url);
    return;
  }
  curl_easy_setopt(easy, CURLOPT_CURLU, static_cast<CURLU*>(nullptr)); // else it would win
  curl_easy_setopt(easy, CURLOPT_URL, target.c_str());
}

std::size_t fetch_session::transfer::on_body(char* data, std::size_t size, std::size_t n,
                                             void* self) {
  auto* t = static_cast<transfer*>(self);
  auto bytes = size * n;
  if (t->max_body >= 0 && t->reply.body.size() + bytes > static_cast<std::size_t>(t->max_body)) {
    t->too_large = true;
    return 0; // aborts the transfer now, before downloading the rest
  }
  try {
    append(t->reply.body, data, bytes);
  } catch (const std::exception&) { // std::bad_alloc, std::length_error
    t->out_of_memory = true;
    return 0;
  }
  return bytes;
}

std::size_t fetch_session::transfer::on_header(char* data, std::size_t size, std::size_t n,
                                               void* self) {
  auto* t = static_cast<transfer*>(self);
  try {
    return t->take_header(data, size * n) ? size * n : 0;
  } catch (const std::exception&) { // std::bad_alloc, std::length_error
    t->out_of_memory = true;
    return 0;
  }
}

bool fetch_session::transfer::take_header(const char* data, std::size_t bytes) {
  if (bytes >= 5 && std::memcmp(data, "HTTP/", 5) == 0) { // a new response (a redirect, 1xx)
    header_lines.clear();
    headers_ended = false;
    content_length = -1;
    return true;
  }
  if (header_lines.capacity() < 512)
    header_lines.reserve(512); // one allocation for a typical header block
  header_lines.append(data, bytes);
  if (bytes > 0 && (data[0] == '\r' || data[0] == '\n') && trim_blanks({data, bytes}).empty()) {
    headers_ended = true;
    return true;
  }
  // Content-Length, whatever the case (a blank before the colon is not HTTP: never seen).
  if (bytes < 16 || (data[0] | 0x20) != 'c' || !ascii_iequals({data, 15}, "content-length:"))
    return true;
  return take_content_length(trim_blanks({data + 15, bytes - 15}));
}

bool fetch_session::transfer::take_content_length(std::string_view value) {
  std::int64_t announced = -1;
  for (std::size_t begin = 0; begin <= value.size();) {
    auto end = std::min(value.find(',', begin), value.size());
    auto item = trim_blanks(value.substr(begin, end - begin));
    begin = end + 1;
    std::int64_t v = 0;
    auto [stop, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec == std::errc::result_out_of_range && max_body >= 0) {
      too_large = true;
      return false;
    }
    if (ec != std::errc{} || item.empty() || stop != item.data() + item.size()) {
      violation = "the response has an invalid Content-Length (" + quote(value) + ")";
      return false;
    }
    if (announced >= 0 && v != announced) {
      violation = "the response has conflicting Content-Lengths (" + quote(value) + ")";
      return false;
    }
    announced = v;
  }
  if (content_length >= 0 && announced != content_length) {
    violation = "the response has conflicting Content-Length headers (" +
                std::to_string(content_length) + " and " + std::to_string(announced) + ")";
    return false;
  }
  content_length = announced;
  if (max_body >= 0 && announced > max_body) {
    too_large = true;
    return false; // refuse before the body starts
  }
  // Room for the announced body at once (at most max_body and `reserve_limit`), instead of
  // growing by copies.
  if (max_body >= 0 && announced > 0 && !head)
    reply.body.reserve(static_cast<std::size_t>(std::min(announced, reserve_limit)));
  return true;
}

} // namespace loopbridge::actors
