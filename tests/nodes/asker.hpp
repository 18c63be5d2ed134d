#pragma once

// A user kind for the nodes tests: `asker` asks echo actors by name, all at once, from its
// handler, and answers with their replies in order (or the first failure). The nodes tests
// run it in the main process and on a node, against echo actors on either side; the node
// process is `loopbridge_test_node`, the command line built with these kinds.

#include <string>
#include <vector>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/worker.hpp"

namespace lbtest {

struct ask_reply {
  std::vector<std::string> answers; ///< each echo's payload, in the order asked
  template <class Inspector>
  friend auto inspect(Inspector& f, ask_reply& x) {
    return f(caf::meta::type_name("ask_reply"), loopbridge::field("answers"), x.answers);
  }
};
struct ask_request {
  using reply_type = ask_reply;
  std::vector<std::string> targets; ///< echo actors
  std::string text;
  std::chrono::nanoseconds delay{0}; ///< each echo's delay
  template <class Inspector>
  friend auto inspect(Inspector& f, ask_request& x) {
    return f(caf::meta::type_name("ask_request"), loopbridge::field("targets"), x.targets,
             loopbridge::field("text"), x.text, loopbridge::field("delay"), x.delay);
  }
};

class asker_worker;
struct asker {
  static constexpr const char* name = "asker";
  using requests = loopbridge::request_list<ask_request>;
  using worker = asker_worker;
};

class asker_worker : public loopbridge::worker {
public:
  explicit asker_worker(loopbridge::worker_context& ctx) : ctx_(ctx) {}

  void handle(ask_request& req, loopbridge::responder<ask_reply>& r) {
    using loopbridge::actors::echo;
    using loopbridge::actors::echo_reply;
    std::vector<loopbridge::future<echo_reply>> asked;
    for (auto& name : req.targets) {
      auto to = ctx_.actor<echo>(name);
      if (!to) {
        r.fail(to.error());
        return;
      }
      loopbridge::actors::echo_request e;
      e.payload = loopbridge::value{name + ": " + req.text};
      e.delay = req.delay;
      asked.push_back(ctx_.submit(*to, std::move(e)));
    }
    ctx_.gather(std::move(asked),
                [r = std::move(r)](loopbridge::result<std::vector<echo_reply>> all) mutable {
                  if (!all) {
                    r.fail(all.error());
                    return;
                  }
                  ask_reply out;
                  for (auto& e : *all)
                    out.answers.push_back(e.payload.as_string());
                  r.reply(std::move(out));
                });
  }

private:
  loopbridge::worker_context& ctx_;
};

/// The built-in kinds and `asker`: what both the tests' runtime and `loopbridge_test_node` use
/// (a node refuses a process whose kinds differ).
inline loopbridge::kind_registry node_test_kinds() {
  auto kinds = loopbridge::actors::builtin_kinds();
  kinds.add<asker>("asks echo actors by name, all at once, and answers with their replies");
  return kinds;
}

} // namespace lbtest
