// Byte payloads (`loopbridge::bytes`): large blocks come back from the pool with their pages
// already mapped, any thread may free what another took, nothing is lost or mixed up, the idle
// blocks stay within their limit, and the type converts like any byte vector.
#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "loopbridge/bytes.hpp"
#include "loopbridge/convert.hpp"

using namespace loopbridge;
using detail::byte_pool_usage_now;

namespace {

bytes filled(std::size_t n, std::uint8_t seed) {
  bytes b;
  b.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    b.push_back(static_cast<std::uint8_t>(seed + i * 7));
  return b;
}

bool intact(const bytes& b, std::uint8_t seed) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != static_cast<std::uint8_t>(seed + i * 7))
      return false;
  return true;
}

/// A buffer of `n` bytes with `tag` written at every 1 KiB and at its last byte: enough to see
/// two buffers share a block or a block come back short, cheap enough for sanitizer builds.
bytes stamped(std::size_t n, std::uint8_t tag) {
  bytes b(n);
  for (std::size_t i = 0; i < n; i += 1024)
    b[i] = tag;
  b[n - 1] = tag;
  return b;
}

bool stamps_intact(const bytes& b, std::uint8_t tag) {
  for (std::size_t i = 0; i < b.size(); i += 1024)
    if (b[i] != tag)
      return false;
  return b.back() == tag;
}

} // namespace

TEST_CASE("a large buffer's block is reused by the next buffer of its size class", "[bytes]") {
  const std::uint8_t* first = nullptr;
  {
    auto b = filled(1 << 20, 1);
    first = b.data();
  }
  auto before = byte_pool_usage_now();
  CHECK(before.idle_blocks >= 1);
  // 1 MiB and 1 MiB + 1 byte fall in different classes; 1 MiB - 4 KiB in the same one.
  auto again = filled((1 << 20) - 4096, 2);
  auto after = byte_pool_usage_now();
  CHECK(again.data() == first);
  CHECK(after.reused_blocks == before.reused_blocks + 1);
  CHECK(after.mapped_blocks == before.mapped_blocks);
  CHECK(intact(again, 2));
}

TEST_CASE("small and huge buffers bypass the pool", "[bytes]") {
  auto before = byte_pool_usage_now();
  {
    auto small = filled(1000, 3);
    auto huge = stamped(detail::byte_pool_max_block + 1, 4);
    CHECK(intact(small, 3));
    CHECK(stamps_intact(huge, 4));
  }
  auto after = byte_pool_usage_now();
  CHECK(after.idle_bytes == before.idle_bytes);
  CHECK(after.mapped_blocks == before.mapped_blocks);
}

TEST_CASE("idle blocks stay within their limit, the rest go back to the system", "[bytes]") {
  std::size_t n = detail::byte_pool_idle_limit / (1 << 20) + 16; // more than the limit holds
  {
    std::vector<bytes> many;
    for (std::size_t i = 0; i < n; ++i)
      many.push_back(stamped(1 << 20, static_cast<std::uint8_t>(i)));
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(stamps_intact(many[i], static_cast<std::uint8_t>(i)));
  }
  auto u = byte_pool_usage_now();
  CHECK(u.idle_bytes <= detail::byte_pool_idle_limit);
  CHECK(u.idle_bytes >= detail::byte_pool_idle_limit - (2 << 20)); // it kept what it could
}

TEST_CASE("buffers taken on one thread and freed on another lose nothing (seeded)", "[bytes]") {
  // Four producers fill buffers of random sizes across the pooled classes and hand them to
  // four consumers, which check their stamps and free them; a failing seed reproduces the run.
  auto seed = GENERATE(1u, 2u, 3u);
  CAPTURE(seed);
  std::mutex m;
  std::condition_variable changed;
  std::deque<std::pair<bytes, std::uint8_t>> handed;
  std::size_t corrupt = 0, received = 0;
  constexpr std::size_t per_producer = 60;
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < 4; ++p)
    threads.emplace_back([&, p] {
      std::mt19937 rng{seed * 31 + p};
      std::uniform_int_distribution<std::size_t> size{1, 3 << 20};
      for (std::size_t i = 0; i < per_producer; ++i) {
        auto tag = static_cast<std::uint8_t>(rng());
        auto b = stamped(size(rng), tag);
        std::lock_guard<std::mutex> g{m};
        handed.emplace_back(std::move(b), tag);
        changed.notify_one();
      }
    });
  for (unsigned c = 0; c < 4; ++c)
    threads.emplace_back([&] {
      for (;;) {
        std::pair<bytes, std::uint8_t> item;
        {
          std::unique_lock<std::mutex> g{m};
          // Producers always finish, and the last take wakes every consumer: no endless wait.
          changed.wait(g, [&] { return !handed.empty() || received == 4 * per_producer; });
          if (received == 4 * per_producer)
            return;
          item = std::move(handed.front());
          handed.pop_front();
          if (++received == 4 * per_producer)
            changed.notify_all();
        }
        if (!stamps_intact(item.first, item.second)) {
          std::lock_guard<std::mutex> g{m};
          ++corrupt;
        }
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(received == 4 * per_producer);
  CHECK(corrupt == 0);
  CHECK(byte_pool_usage_now().idle_bytes <= detail::byte_pool_idle_limit);
}

TEST_CASE("append copies chunks in order, growing the buffer as needed", "[bytes]") {
  auto whole = filled(300'000, 9); // unreserved growth crosses several size classes
  bytes b;
  for (std::size_t at = 0; at < whole.size(); at += 16'384)
    append(b, whole.data() + at, std::min<std::size_t>(16'384, whole.size() - at));
  append(b, nullptr, 0);
  CHECK(b == std::vector<std::uint8_t>(whole.begin(), whole.end()));
}

TEST_CASE("bytes compare with and convert like any byte vector", "[bytes]") {
  std::vector<std::uint8_t> plain{1, 2, 3};
  bytes b{plain.begin(), plain.end()};
  CHECK(b == plain);
  CHECK(plain == b);
  CHECK_FALSE(b != plain);
  plain.push_back(4);
  CHECK(b != plain);
  auto v = to_value(b);
  REQUIRE(v.is_bytes());
  CHECK(v.as_bytes() == value::bytes{1, 2, 3});
  bytes back;
  std::vector<field_problem> problems;
  from_value(value{"text"}, back, "", problems);
  CHECK(problems.empty());
  CHECK(std::string(back.begin(), back.end()) == "text");
}
