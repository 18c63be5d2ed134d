#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <caf/meta/type_name.hpp>

#include "loopbridge/field.hpp"

namespace loopbridge {

/// Names one kind of failure: a domain (`loop`, `fetch`, `image`, ...) and a code inside it.
/// Codes are stable names that host code, scenarios and logs compare; each actor kind defines
/// its own domain, so the core never needs to know every kind's failures.
struct error_code {
  std::string_view domain;
  std::string_view code;
};

/// A failure as a value: what kind (`domain.code`) and a human-readable message.
///
/// Errors travel inside replies, futures and events; they are never thrown across an actor
/// boundary. Two errors are the same kind when their domain and code match; the message is for
/// people and may vary.
class error {
public:
  error() = default;
  error(error_code kind, std::string message)
      : domain_(kind.domain),
        code_(kind.code),
        message_(std::move(message)) {}

  /// The domain, e.g. `loop`.
  const std::string& domain() const noexcept { return domain_; }
  /// The code inside the domain, e.g. `timeout`.
  const std::string& code() const noexcept { return code_; }
  /// What happened, for people.
  const std::string& message() const noexcept { return message_; }
  /// `domain.code`, e.g. `loop.timeout`.
  std::string name() const { return domain_ + "." + code_; }
  /// True if this error is of the given kind.
  bool is(error_code kind) const noexcept { return domain_ == kind.domain && code_ == kind.code; }
  /// `domain.code: message`.
  std::string to_string() const;

  template <class Inspector>
  friend auto inspect(Inspector& f, error& x) {
    return f(caf::meta::type_name("loopbridge.error"), field("domain"), x.domain_, field("code"),
             x.code_, field("message"), x.message_);
  }

  friend bool operator==(const error& a, const error& b) {
    return a.domain_ == b.domain_ && a.code_ == b.code_ && a.message_ == b.message_;
  }

private:
  std::string domain_;
  std::string code_;
  std::string message_;
};

std::ostream& operator<<(std::ostream& out, const error& e);

/// Error kinds of the core (`loop.*`).
namespace errc {
/// The request's deadline passed before its reply.
inline constexpr error_code timeout{"loop", "timeout"};
/// The actor or the runtime stopped before the request completed, or was already stopped.
inline constexpr error_code stopped{"loop", "stopped"};
/// The target's queue is full and its overflow policy rejects or drops.
inline constexpr error_code overloaded{"loop", "overloaded"};
/// The worker failed while handling the request (an exception, a crash, a dropped reply).
inline constexpr error_code worker_failed{"loop", "worker_failed"};
/// No actor, kind or parameter of that name.
inline constexpr error_code not_found{"loop", "not_found"};
/// The request, a parameter or an argument is malformed; the message says which.
inline constexpr error_code bad_request{"loop", "bad_request"};
/// The host cancelled the request.
inline constexpr error_code cancelled{"loop", "cancelled"};
/// A blocking call made on a thread where blocking would stall the runtime.
inline constexpr error_code would_deadlock{"loop", "would_deadlock"};
/// An actor's start failed or its `ready` did not come in time.
inline constexpr error_code start_failed{"loop", "start_failed"};
/// A handle was looked up with a kind that is not the actor's kind.
inline constexpr error_code wrong_kind{"loop", "wrong_kind"};

// Error kinds of nodes (`node.*`): actors placed on another process.
/// The connection to the node that ran the request was lost while the request was there: it
/// may or may not have run (nothing is re-run).
inline constexpr error_code node_lost{"node", "lost"};
/// The node the actor runs on cannot be reached now (the request never left this process).
inline constexpr error_code node_unreachable{"node", "unreachable"};
/// The node, or this process, refused the connection: a wrong secret, another build.
inline constexpr error_code node_refused{"node", "refused"};
} // namespace errc

} // namespace loopbridge
