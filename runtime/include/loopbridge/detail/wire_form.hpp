#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deserializer.hpp>

namespace loopbridge::detail {

/// Reads values in CAF's binary format (the format CAF's middleman sends) from bytes that may
/// come from anyone: unlike `caf::binary_deserializer` alone, it refuses a sequence longer than
/// the bytes that follow could hold before anything is sized for it (CAF resizes a byte
/// sequence to the length on the wire, up to 4 GiB, before it checks), and sequences nested
/// deeper than `max_depth` (a value holding lists of lists would recurse once per level).
/// Numbers that are not finite are refused too (the writer never sends them). One per message;
/// not thread-safe.
class wire_reader final : public caf::deserializer {
public:
  static constexpr int max_depth = 32;

  wire_reader(const char* data, std::size_t size);

  std::size_t remaining() const noexcept { return bytes_.remaining(); }
  /// What stopped the last read, in words (empty after a successful one).
  const std::string& problem() const noexcept { return problem_; }

  caf::error begin_object(std::uint16_t& typenr, std::string& name) override;
  caf::error end_object() override;
  caf::error begin_sequence(std::size_t& num) override;
  caf::error end_sequence() override;
  caf::error apply_raw(std::size_t num_bytes, void* data) override;

protected:
  caf::error apply_impl(std::int8_t& x) override;
  caf::error apply_impl(std::uint8_t& x) override;
  caf::error apply_impl(std::int16_t& x) override;
  caf::error apply_impl(std::uint16_t& x) override;
  caf::error apply_impl(std::int32_t& x) override;
  caf::error apply_impl(std::uint32_t& x) override;
  caf::error apply_impl(std::int64_t& x) override;
  caf::error apply_impl(std::uint64_t& x) override;
  caf::error apply_impl(float& x) override;
  caf::error apply_impl(double& x) override;
  caf::error apply_impl(long double& x) override;
  caf::error apply_impl(std::string& x) override;
  caf::error apply_impl(std::u16string& x) override;
  caf::error apply_impl(std::u32string& x) override;

private:
  caf::error refuse(std::string why);
  template <class F>
  caf::error finite(F& x);

  caf::binary_deserializer bytes_;
  int depth_ = 0;
  std::string problem_;
};

/// Writes values in CAF's binary format, refusing what CAF 0.17 cannot write: its IEEE 754
/// packing loops forever on an infinite float or double, and turns NaN into an arbitrary
/// number. Not thread-safe (one per message).
class wire_writer final : public caf::serializer {
public:
  explicit wire_writer(std::vector<char>& out);

  const std::string& problem() const noexcept { return problem_; }

  caf::error begin_object(std::uint16_t& typenr, std::string& name) override;
  caf::error end_object() override;
  caf::error begin_sequence(std::size_t& num) override;
  caf::error end_sequence() override;
  caf::error apply_raw(std::size_t num_bytes, void* data) override;

protected:
  caf::error apply_impl(std::int8_t& x) override;
  caf::error apply_impl(std::uint8_t& x) override;
  caf::error apply_impl(std::int16_t& x) override;
  caf::error apply_impl(std::uint16_t& x) override;
  caf::error apply_impl(std::int32_t& x) override;
  caf::error apply_impl(std::uint32_t& x) override;
  caf::error apply_impl(std::int64_t& x) override;
  caf::error apply_impl(std::uint64_t& x) override;
  caf::error apply_impl(float& x) override;
  caf::error apply_impl(double& x) override;
  caf::error apply_impl(long double& x) override;
  caf::error apply_impl(std::string& x) override;
  caf::error apply_impl(std::u16string& x) override;
  caf::error apply_impl(std::u32string& x) override;

private:
  caf::binary_serializer bytes_;
  std::string problem_;
};

/// Appends `x` in CAF's binary format, through its `inspect`. False if a field cannot be
/// written (a number that is infinite or NaN), with `problem` saying why; the output is then
/// incomplete.
template <class T>
bool wire_encode(T& x, std::vector<char>& out, std::string& problem) {
  wire_writer sink{out};
  if (!sink(x))
    return true;
  problem = sink.problem().empty() ? "cannot be written" : sink.problem();
  return false;
}

template <class T>
bool wire_encode(T& x, std::vector<char>& out) {
  std::string problem;
  return wire_encode(x, out, problem);
}

/// Reads exactly one `T` from `data` (nothing may be left over). On failure, false and
/// `problem` says why; `x` is then unspecified but valid. Never throws on malformed bytes.
template <class T>
bool wire_decode(T& x, const char* data, std::size_t size, std::string& problem) {
  wire_reader source{data, size};
  bool ok = false;
  try {
    ok = !source(x);
  } catch (const std::exception& e) {
    problem = std::string{"malformed: "} + e.what();
    return false;
  }
  if (!ok) {
    problem = source.problem().empty() ? "malformed: the bytes end early" : source.problem();
    return false;
  }
  if (source.remaining() != 0) {
    problem = "malformed: " + std::to_string(source.remaining()) + " bytes left over";
    return false;
  }
  return true;
}

} // namespace loopbridge::detail
