// Replies: a finished transfer answered with its response, or failed with the error kind its
// libcurl code or broken HTTP names.
#include "fetcher/fetch_session.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

#include "fetcher/fetch_transfer.hpp"
#include "fetcher/http_text.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors {

namespace {

std::chrono::nanoseconds micros(curl_off_t us) {
  return std::chrono::microseconds(us);
}

} // namespace

void fetch_session::finish(transfer& t, CURLcode code) {
  if (code == CURLE_OK && !t.headers_ended)
    t.violation = "the connection closed in the middle of the response headers";
  if (code != CURLE_OK || !t.violation.empty()) {
    t.r.fail(failure_of(t, code));
    return;
  }
  t.completed = true;
  auto& url = t.req.url;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  // An HTTP status is three digits; libcurl takes more from a malformed status line (such as
  // "HTTP/23301").
  if (status < 100 || status > 999) {
    t.r.fail(error{fetch_errc::protocol, printable(url) + ": the status line is not HTTP (status " +
                                             std::to_string(status) + ")"});
    return;
  }
  if (t.req.raise_for_status && status >= 400) {
    t.r.fail(error{fetch_errc::http_status,
                   "HTTP " + std::to_string(status) + " from " + printable(url)});
    return;
  }
  char* effective = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
  curl_off_t connect = 0, first = 0, total = 0;
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(t.easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
  curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total);
  t.reply.status = status;
  // Without a redirect the effective URL is the request's: taken over, not copied.
  if (!effective || url == effective)
    t.reply.effective_url = std::move(url);
  else
    t.reply.effective_url = effective;
  t.reply.headers = fetch_headers::from_lines(std::move(t.header_lines));
  t.reply.connect_time = micros(connect);
  t.reply.first_byte_time = micros(first);
  t.reply.total_time = micros(total);
  t.r.reply(std::move(t.reply));
}

error fetch_session::failure_of(transfer& t, CURLcode code) const {
  auto url = printable(t.req.url);
  if (!t.violation.empty())
    return error{fetch_errc::protocol, url + ": " + t.violation};
  if (t.out_of_memory)
    return error{fetch_errc::too_large, "the reply from " + url + " does not fit in memory (" +
                                            std::to_string(t.reply.body.size()) +
                                            " body bytes held)"};
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED)
    return error{fetch_errc::too_large, "the body of " + url + " exceeds max_body (" +
                                            std::to_string(t.max_body) + " bytes)"};
  error_code kind = fetch_errc::protocol;
  switch (code) {
    case CURLE_URL_MALFORMAT:
      kind = fetch_errc::bad_url;
      break;
    case CURLE_UNSUPPORTED_PROTOCOL: {
      // A redirect to a scheme the session does not allow, or a reply that is not HTTP
      // (libcurl calls both an unsupported protocol): told apart by the URL it was fetching.
      char* effective = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
      if (effective && !scheme_allowed(effective))
        kind = fetch_errc::scheme_not_allowed;
      break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      kind = fetch_errc::dns;
      break;
    case CURLE_COULDNT_CONNECT:
      kind = fetch_errc::connect_failed;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      kind = fetch_errc::timeout;
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
      kind = fetch_errc::tls;
      break;
    default:
      break;
  }
  auto why = printable(t.errbuf[0] ? t.errbuf : curl_easy_strerror(code));
  return error{kind, url + ": " + why};
}

bool fetch_session::scheme_allowed(std::string_view url) const {
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return false;
  auto scheme = url.substr(0, sep);
  return std::any_of(settings_.schemes.begin(), settings_.schemes.end(),
                     [&](const std::string& s) { return ascii_iequals(scheme, s); });
}

} // namespace loopbridge::actors
