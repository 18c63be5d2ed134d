// Request, reply and error types are inspectable with CAF's inspectors: the same field
// description serves printing and serialization (what the network will need).
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "loopbridge/actors/echo.hpp"

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {
template <class T>
T roundtrip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(x));
  T y;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(y));
  return y;
}
} // namespace

TEST_CASE("echo messages and errors survive CAF serialization", "[inspect]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  echo_request req;
  req.payload = value{{"list", value::list{1, 2.5, "three", value::bytes{0, 255}, 5ms}},
                      {"flag", true},
                      {"none", value{}}};
  req.delay = 7ms;
  req.fail = true;
  auto req2 = roundtrip(sys, req);
  CHECK(req2.payload == req.payload);
  CHECK(req2.delay == 7ms);
  CHECK(req2.fail);

  echo_reply rep;
  rep.payload = value{"hi"};
  rep.instance = 3;
  rep.request_id = 99;
  rep.context = value::map{{"user", value{42}}};
  auto rep2 = roundtrip(sys, rep);
  CHECK(rep2.payload == rep.payload);
  CHECK(rep2.instance == 3);
  CHECK(rep2.request_id == 99);
  CHECK(rep2.context == rep.context);

  error e{errc::timeout, "too slow"};
  auto e2 = roundtrip(sys, e);
  CHECK(e2 == e);
  CHECK(e2.name() == "loop.timeout");
}

TEST_CASE("CAF's printer shows the fields", "[inspect]") {
  echo_stats s;
  s.instance = 1;
  s.received = 2;
  auto text = caf::deep_to_string(s);
  CHECK(text.find("echo_stats") != std::string::npos);
  CHECK(text.find("2") != std::string::npos);
}
