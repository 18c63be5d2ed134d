#pragma once

// A user-defined actor kind, as an application would write one: `greeter` answers a greet
// request with a greeting in its configured language, and counts whom it greeted.

#include <cstdint>
#include <string>
#include <vector>

#include "loopbridge/kind.hpp"
#include "loopbridge/worker.hpp"

struct greeting {
  std::string text;
  std::uint64_t greeted = 0; ///< greetings this instance gave so far

  template <class Inspector>
  friend auto inspect(Inspector& f, greeting& x) {
    return f(caf::meta::type_name("greeting"), loopbridge::field("text"), x.text,
             loopbridge::field("greeted"), x.greeted);
  }
};

struct greet_request {
  using reply_type = greeting;
  std::string name;

  template <class Inspector>
  friend auto inspect(Inspector& f, greet_request& x) {
    return f(caf::meta::type_name("greet_request"), loopbridge::field("name"), x.name);
  }
};

class greeter_worker;

/// Params: `language` (en or fr). An empty name fails with `greeter.no_name`.
struct greeter {
  static constexpr const char* name = "greeter";
  using requests = loopbridge::request_list<greet_request>;
  using worker = greeter_worker;
  static std::vector<loopbridge::param_decl> params() {
    return {loopbridge::param_decl::string("language", "en", "en or fr").one_of({"en", "fr"})};
  }
};

class greeter_worker final : public loopbridge::worker {
public:
  explicit greeter_worker(loopbridge::worker_context& ctx)
      : french_(ctx.params().string("language") == "fr") {}

  void handle(greet_request& req, loopbridge::responder<greeting>& r) {
    if (req.name.empty()) {
      r.fail(loopbridge::error{loopbridge::error_code{"greeter", "no_name"}, "whom to greet?"});
      return;
    }
    r.reply(greeting{(french_ ? "Bonjour, " : "Hello, ") + req.name + "!", ++greeted_});
  }

private:
  bool french_;
  std::uint64_t greeted_ = 0;
};
