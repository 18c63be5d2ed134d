#pragma once

// `fetch_session::transfer`: one transfer's easy handle, its request and the reply it gathers.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "fetcher/fetch_session.hpp"

namespace loopbridge::actors {

/// One transfer and its easy handle. Transfers are pooled with their handles: a handle that
/// served a plain GET keeps its options (and its pointers to this object) for the next one.
///
/// I/O thread only: libcurl calls its callbacks there, from `curl_multi_perform`.
struct fetch_session::transfer {
  CURL* easy = nullptr;
  fetch_request req;
  responder<fetch_reply> r{{}, {}};
  std::uint64_t id = 0;          ///< the request's id (the responder forgets it once answered)
  std::size_t slot = 0;          ///< its index in `active_` while active
  host_queue* host = nullptr;    ///< the queue its request came from, while active
  curl_slist* headers = nullptr; ///< this transfer's own header list (not the session's)
  /// A GET with no body and no headers of its own: its handle needs only per-request options.
  bool plain = false;
  bool completed = false; ///< finished with CURLE_OK (its handle may be reused as it is)
  bool head = false;      ///< a HEAD request: no body follows its Content-Length
  fetch_reply reply;
  /// The header lines of the latest response, as received: `reply.headers` parses them when
  /// (and on the thread where) they are first read.
  std::string header_lines;
  /// The latest response's header block ended (its blank line arrived).
  bool headers_ended = false;
  /// The latest response's Content-Length (-1: none so far).
  std::int64_t content_length = -1;
  /// How the server broke HTTP in a way libcurl lets through (empty: it did not); the
  /// transfer is aborted when it is found.
  std::string violation;
  std::int64_t max_body = -1;
  bool too_large = false;
  /// The reply could not be held: memory for its body or headers ran out (the transfer was
  /// aborted; an exception must not cross libcurl's C frames).
  bool out_of_memory = false;
  /// When it fails with `fetch.timeout` (its timeout after its submission), and its
  /// neighbours in the session's deadline order.
  time_point deadline;
  std::chrono::nanoseconds timeout{0};
  transfer* earlier = nullptr;
  transfer* later = nullptr;
  /// The per-request option last set on `easy` (-1: not since the handle was set up).
  curl_off_t max_file_set = -1;
  /// The request URL, parsed once for every transfer of this handle that fetches the same URL
  /// (`url_parsed` is what it holds; empty: nothing usable). libcurl takes it read-only
  /// (`CURLOPT_CURLU`); given the URL as a string instead, it would parse it again for every
  /// transfer and rebuild a normalised copy on the I/O thread.
  CURLU* url = nullptr;
  std::string url_parsed;
  char errbuf[CURL_ERROR_SIZE] = {};

  explicit transfer(CURL* e) : easy(e) {}
  /// Frees the handle and what it points at (its header list, its parsed URL), in that order.
  /// The owner removes the handle from the multi handle first, if it was added.
  ~transfer() {
    forget_cookie_files(easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_url_cleanup(url);
  }
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;

  /// Ready for a new request: nothing of the previous one's outcome is left.
  void clear_outcome() {
    completed = false;
    too_large = false;
    out_of_memory = false;
    headers_ended = false;
    content_length = -1;
    violation.clear();
    reply = fetch_reply{};
    header_lines.clear();
    errbuf[0] = 0;
  }

  /// Points `easy` at `target` (`reconfigured`: the handle was reset or is new, so it holds no
  /// URL). The parse is kept for the next transfer of the same URL. If the URL handle cannot
  /// take it, libcurl gets the string and reports what is wrong with it as it always does.
  void set_url(const std::string& target, bool reconfigured);

  /// The most a Content-Length reserves for the body before it arrives: a larger body grows
  /// as it comes, so a length announced by a hostile server costs nothing it did not send.
  static constexpr std::int64_t reserve_limit = std::int64_t{64} << 20;

  /// libcurl's write callback: appends body bytes, or aborts the transfer (returns 0) when
  /// the body would exceed `max_body` or memory for it runs out (`out_of_memory`).
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);

  /// libcurl passes every header line whole, the status line and the blank line that ends
  /// the block included. Aborts the transfer (returns 0) on a violation, an oversized
  /// Content-Length, or when memory runs out (`out_of_memory`).
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  /// One header line (see `on_header`); false if the transfer must stop.
  bool take_header(const char* data, std::size_t bytes);

  /// Checks one Content-Length header of the latest response: a number, or a list of equal
  /// numbers (RFC 9110, 8.6), equal to any Content-Length before it. libcurl takes the last
  /// of several and reads a number off the front of anything: a response that says two
  /// lengths, or no length, is not HTTP (`violation`). False if the transfer must stop.
  bool take_content_length(std::string_view value);
};

} // namespace loopbridge::actors
