// Deadlines: when a request times out, and the orders in which waiting requests and active
// transfers reach theirs.
#include "fetcher/fetch_session.hpp"

#include <chrono>
#include <string>

#include "fetcher/fetch_transfer.hpp"
#include "loopbridge/text.hpp"

namespace loopbridge::actors {

fetch_session::time_point fetch_session::deadline_of(time_point submitted,
                                                     std::chrono::nanoseconds timeout) {
  // A timeout beyond the clock's range (a request may ask for years) means no deadline.
  return timeout < time_point::max() - submitted ? submitted + timeout : time_point::max();
}

void fetch_session::expire_waiting(time_point now) {
  while (!waiting_by_deadline_.empty() && waiting_by_deadline_.begin()->first <= now) {
    auto it = waiting_by_deadline_.begin()->second;
    waiting_by_deadline_.erase(waiting_by_deadline_.begin());
    auto& h = *it->host;
    job j = std::move(*it);
    h.waiting.erase(it);
    --waiting_total_;
    j.r.fail(timed_out_waiting(j));
    forget_if_idle(h);
  }
}

error fetch_session::timed_out_waiting(const job& j) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(j.timeout).count();
  return error{fetch_errc::timeout, printable(j.req.url) + ": no complete response within " +
                                        std::to_string(ms) +
                                        " ms (no connection was free for it in time)"};
}

void fetch_session::track_deadline(transfer* t) {
  auto* after = last_deadline_; // the last one due no later than t
  while (after && after->deadline > t->deadline)
    after = after->earlier;
  t->earlier = after;
  t->later = after ? after->later : first_deadline_;
  (t->earlier ? t->earlier->later : first_deadline_) = t;
  (t->later ? t->later->earlier : last_deadline_) = t;
}

void fetch_session::untrack_deadline(transfer* t) {
  (t->earlier ? t->earlier->later : first_deadline_) = t->later;
  (t->later ? t->later->earlier : last_deadline_) = t->earlier;
  t->earlier = t->later = nullptr;
}

void fetch_session::expire_transfers(time_point now) {
  while (first_deadline_ && first_deadline_->deadline <= now) {
    auto& t = *first_deadline_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.timeout).count();
    t.r.fail(error{fetch_errc::timeout,
                   printable(t.req.url) + ": no complete response within " + std::to_string(ms) +
                       " ms (" + std::to_string(t.reply.body.size()) + " body bytes received)"});
    release(t); // removes the handle: the connection is closed
  }
}

} // namespace loopbridge::actors
