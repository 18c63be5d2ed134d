// The wire form of requests and replies (CAF's binary format through each type's `inspect`),
// as a node will send them: every built-in kind's types survive it, and bytes from anyone —
// cut short, flipped, crafted to claim gigabytes or to nest without end — give a clear
// problem, never a crash, a throw or an allocation beyond the message's size.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "loopbridge/actors/builtin_kinds.hpp"
#include "loopbridge/actors/echo.hpp"
#include "loopbridge/actors/fetcher.hpp"
#include "loopbridge/actors/http_origin.hpp"
#include "loopbridge/actors/image_processor.hpp"
#include "loopbridge/actors/writer.hpp"
#include "loopbridge/detail/wire_form.hpp"
#include "nodes/node_protocol.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/detail/serialized_size.hpp>

using namespace loopbridge;
using namespace loopbridge::actors;
using namespace std::chrono_literals;

namespace {

/// What a failed wire call says; "" when it succeeded.
std::string problem_of(const result<void>& r) {
  return r ? std::string{} : r.error().message();
}

template <class T>
std::vector<char> encoded(T x) {
  std::vector<char> out;
  REQUIRE(detail::wire_encode(x, out).ok());
  return out;
}

template <class T>
void check_round_trip(T x) {
  auto bytes = encoded(x);
  T back{};
  REQUIRE(problem_of(detail::wire_decode(back, bytes.data(), bytes.size())) == "");
  CHECK(to_value(back) == to_value(x));
}

echo_request sample_echo() {
  echo_request r;
  r.payload = value{{"list", value::list{1, 2.5, "three", value::bytes{0, 255}, 5ms}},
                    {"nested", value{{"deeper", value::list{value::list{true}}}}},
                    {"none", value{}}};
  r.delay = 3ms;
  r.fail = true;
  return r;
}

/// A value holding lists `depth` levels deep.
value nested(int depth) {
  value v = 1;
  for (int i = 0; i < depth; ++i)
    v = value::list{std::move(v)};
  return v;
}

} // namespace

TEST_CASE("every built-in kind's requests and replies cross the wire unchanged", "[wire]") {
  check_round_trip(sample_echo());
  echo_reply er;
  er.payload = sample_echo().payload;
  er.instance = 3;
  er.request_id = 1u << 20;
  er.context = value::map{{"user", value{"ada"}}};
  er.received = 9;
  check_round_trip(er);
  check_round_trip(echo_stats_request{});
  check_round_trip(echo_stats{2, 10, 8, 1, 1});

  fetch_request fr;
  fr.method = "POST";
  fr.url = "http://127.0.0.1:8080/a?b=c";
  fr.headers = {{"x-trace", "7"}, {"accept", "*/*"}};
  fr.timeout = 2s;
  fr.raise_for_status = true;
  check_round_trip(fr);
  fetch_reply fp;
  fp.headers = fetch_headers{{"content-type", "image/jpeg"}};
  fp.effective_url = fr.url;
  fp.total_time = 12ms;
  check_round_trip(fp);

  image_request ir;
  ir.input_path = "in/a.jpg";
  ir.output_path = "out/a.webp";
  ir.format = "webp";
  ir.ops = {image_op{}, image_op{}};
  ir.ops[0].op = "thumbnail";
  ir.ops[1].op = "rotate";
  ir.ops[1].angle = 90;
  check_round_trip(ir);
  image_reply ip;
  ip.path = "out/a.webp";
  ip.format = "webp";
  check_round_trip(ip);

  write_request wr;
  wr.path = "dir/file.bin";
  wr.overwrite = false;
  check_round_trip(wr);
  write_reply wp;
  wp.path = "dir/file.bin";
  check_round_trip(wp);

  set_faults_request sf;
  sf.faults.resize(2);
  sf.faults[1].path = "/slow";
  sf.faults[1].delay = 250ms;
  sf.faults[1].drop = true;
  check_round_trip(sf);
  check_round_trip(origin_info_request{});
  origin_info oi;
  oi.url = "http://127.0.0.1:1234";
  check_round_trip(oi);
}

TEST_CASE("a kind's request entries encode and decode its requests and replies", "[wire]") {
  auto kinds = builtin_kinds();
  auto* entry = kinds.find("echo")->find_request("echo");
  REQUIRE(entry->encode_request);
  detail::typed_request_state<echo_request> st{sample_echo()};
  std::vector<char> bytes;
  REQUIRE(problem_of(entry->encode_request(st, bytes)) == "");
  auto read = entry->decode_request(bytes.data(), bytes.size());
  REQUIRE(read.ok());
  auto decoded = *read;
  CHECK(decoded->request_type() == detail::tag_of<echo_request>());
  auto& request = static_cast<detail::typed_request_state<echo_request>&>(*decoded).request;
  CHECK(to_value(request) == to_value(st.request));

  // Replies: written from the state that holds one, read into the state that waits for it.
  st.reply = echo_reply{};
  st.reply->payload = "pong";
  st.reply->received = 4;
  std::vector<char> reply_bytes;
  REQUIRE(problem_of(entry->encode_reply(st, reply_bytes)) == "");
  REQUIRE(problem_of(entry->decode_reply(*decoded, reply_bytes.data(), reply_bytes.size())) == "");
  auto& reply = static_cast<detail::reply_state<echo_reply>&>(*decoded).reply;
  REQUIRE(reply);
  CHECK(reply->payload == value{"pong"});
  CHECK(reply->received == 4);

  // Nothing to encode without a reply; nothing to decode from a request's bytes.
  detail::typed_request_state<echo_request> unanswered{echo_request{}};
  std::vector<char> none;
  CHECK(problem_of(entry->encode_reply(unanswered, none)) == "the request has no reply");
  CHECK_FALSE(problem_of(entry->decode_reply(unanswered, bytes.data(), bytes.size())).empty());

  // A kind of offloaded functions has no wire form.
  for (auto& r : kinds.find("blocking")->requests)
    if (!r.decode_request)
      CHECK(r.encode_request == nullptr);
  CHECK(kinds.find("blocking")->local_only_request() != nullptr);
}

TEST_CASE("malformed wire bytes give a problem, never a crash or a huge allocation", "[wire]") {
  std::string problem;
  SECTION("cut short at every length, or followed by more") {
    auto bytes = encoded(sample_echo());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      echo_request r;
      INFO(n);
      problem = problem_of(detail::wire_decode(r, bytes.data(), n));
      CHECK_FALSE(problem.empty());
      CHECK(problem.rfind("malformed: ", 0) == 0);
    }
    bytes.push_back('x');
    echo_request r;
    problem = problem_of(detail::wire_decode(r, bytes.data(), bytes.size()));
    CHECK_FALSE(problem.empty());
    CHECK(problem == "malformed: 1 bytes left over");
  }
  SECTION("a length that claims 4 GiB is refused before anything is sized for it") {
    // A write_request's path: the length 2^32 - 1 as a varbyte, then three bytes.
    std::vector<char> bytes{char(0xff), char(0xff), char(0xff), char(0xff), 0x0f, 'a', 'b', 'c'};
    write_request r;
    problem = problem_of(detail::wire_decode(r, bytes.data(), bytes.size()));
    CHECK_FALSE(problem.empty());
    echo_request e; // a value's bytes go through CAF's resize-then-read path
    auto payload = encoded(echo_request{value{value::bytes{1, 2, 3}}});
    // Find the bytes' length (3) and claim 4 GiB instead.
    auto at = std::find(payload.begin(), payload.end(), char(3));
    REQUIRE(at != payload.end());
    at = payload.erase(at);
    payload.insert(at, bytes.begin(), bytes.begin() + 5);
    problem = problem_of(detail::wire_decode(e, payload.data(), payload.size()));
    CHECK_FALSE(problem.empty());
    CHECK(problem.find("a sequence of 4294967295 elements in") != std::string::npos);
  }
  SECTION("numbers that are not finite are refused on both sides") {
    // CAF 0.17's IEEE 754 packing never returns for an infinite number.
    for (double bad : {HUGE_VAL, -HUGE_VAL, std::nan("")}) {
      echo_request r{value::list{1, bad}};
      std::vector<char> out;
      problem = problem_of(detail::wire_encode(r, out));
      CHECK_FALSE(problem.empty());
      CHECK(problem.rfind("a number that is not finite (", 0) == 0);
      CHECK(problem.find(") has no wire form") != std::string::npos);
    }
    // The largest finite double crosses; bytes that unpack to infinity do not.
    echo_request big{value{1.7976931348623157e308}};
    auto bytes = encoded(big);
    echo_request back;
    REQUIRE(problem_of(detail::wire_decode(back, bytes.data(), bytes.size())) == "");
    CHECK(back.payload == big.payload);
    auto at = std::search(bytes.begin(), bytes.end(), "\x7f\xef", "\x7f\xef" + 2);
    REQUIRE(at != bytes.end()); // the packed exponent: raise it to the infinite one
    at[1] = char(0xf0);
    problem = problem_of(detail::wire_decode(back, bytes.data(), bytes.size()));
    CHECK_FALSE(problem.empty());
    CHECK(problem == "malformed: a number that is not finite");
  }
  SECTION("nesting is bounded") {
    echo_request deep{nested(detail::wire_reader::max_depth - 2)};
    auto ok = encoded(deep);
    echo_request back;
    CHECK(problem_of(detail::wire_decode(back, ok.data(), ok.size())) == "");
    CHECK(back.payload == deep.payload);
    auto too_deep = encoded(echo_request{nested(detail::wire_reader::max_depth + 8)});
    problem = problem_of(detail::wire_decode(back, too_deep.data(), too_deep.size()));
    CHECK_FALSE(problem.empty());
    CHECK(problem == "malformed: sequences nested deeper than 32 levels");
  }
  SECTION("random corruption (fixed seeds; a failing seed reproduces)") {
    auto original = encoded(sample_echo());
    for (std::uint32_t seed = 1; seed <= 3000; ++seed) {
      std::mt19937 rng{seed};
      auto bytes = original;
      auto edits = 1 + rng() % 4;
      for (std::uint32_t k = 0; k < edits; ++k) {
        auto pos = rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            bytes[pos] = static_cast<char>(rng());
            break;
          case 1:
            bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                         static_cast<char>(rng()));
            break;
          default:
            bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos));
        }
        if (bytes.empty())
          bytes.push_back(0);
      }
      echo_request r;
      INFO("seed " << seed);
      problem = problem_of(detail::wire_decode(r, bytes.data(), bytes.size()));
      if (!problem.empty())
        CHECK(problem.rfind("malformed: ", 0) == 0);
    }
  }
}

TEST_CASE("a node message's body is written in place and read as plain bytes", "[wire]") {
  auto kinds = builtin_kinds();
  auto* entry = kinds.find("echo")->find_request("echo");
  REQUIRE(entry->save_request);
  // Lengths whose shortest varbyte takes one, two and three bytes (the body's is five).
  for (std::size_t n : {std::size_t{0}, std::size_t{100}, std::size_t{300} << 10}) {
    INFO(n << " payload bytes");
    echo_request req;
    req.payload = value{value::bytes(n, 7)};
    auto expected = encoded(req);
    detail::request_ref st{detail::make_ref<detail::typed_request_state<echo_request>>(req)};

    detail::node_call c;
    c.id = 9;
    c.actor = "far";
    c.request = "echo";
    REQUIRE(problem_of(c.body.refer(st, entry->save_request)) == "");
    CHECK(c.body.size() == expected.size());

    // As CAF sends it: the message's elements through its binary serializer.
    std::vector<char> wire;
    caf::binary_serializer sink{nullptr, wire};
    std::vector<detail::node_call> calls{c};
    REQUIRE_FALSE(sink(calls));
    std::vector<detail::node_call> back;
    caf::binary_deserializer source{nullptr, wire};
    REQUIRE_FALSE(source(back));
    CHECK(source.remaining() == 0);
    REQUIRE(back.size() == 1);
    CHECK(back[0].id == 9);
    CHECK(back[0].actor == "far");
    CHECK(back[0].body.bytes() == expected);
    echo_request read;
    auto& body = back[0].body.bytes();
    REQUIRE(problem_of(detail::wire_decode(read, body.data(), body.size())) == "");
    CHECK(read.payload == req.payload);

    // A reader of a plain byte vector reads the body alone.
    std::vector<char> alone;
    caf::binary_serializer alone_sink{nullptr, alone};
    REQUIRE_FALSE(alone_sink(c.body));
    std::vector<char> plain;
    caf::binary_deserializer plain_source{nullptr, alone};
    REQUIRE_FALSE(plain_source(plain));
    CHECK(plain == expected);

    // Any other serializer gets the same bytes, written first; a message that never left its
    // process has them written when they are asked for.
    caf::detail::serialized_size_inspector measure{static_cast<caf::execution_unit*>(nullptr)};
    REQUIRE_FALSE(measure(c.body));
    caf::detail::serialized_size_inspector plain_measure{
        static_cast<caf::execution_unit*>(nullptr)};
    REQUIRE_FALSE(plain_measure(expected));
    CHECK(measure.result() == plain_measure.result());
    CHECK(c.body.bytes() == expected);
  }

  SECTION("what cannot be written is refused when it is referred to, not when it is sent") {
    echo_request bad{value::list{1, HUGE_VAL}};
    detail::request_ref st{detail::make_ref<detail::typed_request_state<echo_request>>(bad)};
    detail::wire_body body;
    auto problem = problem_of(body.refer(st, entry->save_request));
    CHECK(problem.rfind("a number that is not finite (", 0) == 0);
    CHECK(body.size() == 0);
    auto unanswered = st; // no reply yet
    CHECK(problem_of(body.refer(unanswered, entry->save_reply)) == "cannot be written");
    CHECK(body.size() == 0);
  }

  SECTION("a body longer than the bytes left is refused before anything is sized for it") {
    std::vector<char> wire;
    caf::binary_serializer sink{nullptr, wire};
    std::uint64_t id = 4;
    bool failed = false;
    REQUIRE_FALSE(sink(id, failed));
    for (int b : {0xff, 0xff, 0xff, 0xff, 0x0f}) // 2^32 - 1
      wire.push_back(static_cast<char>(b));
    wire.insert(wire.end(), {'a', 'b', 'c'});
    detail::node_answer a;
    caf::binary_deserializer source{nullptr, wire};
    CHECK(source(a) == caf::sec::end_of_stream);
    CHECK(a.body.size() == 0);
  }
}
