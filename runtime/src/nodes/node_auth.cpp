// What a connection between a main runtime and a node proves: the same build (the application
// identifier) and knowledge of the shared secret (HMAC-SHA256 over fresh nonces, never the
// secret itself).
#include "nodes/node_protocol.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace loopbridge::detail {

namespace {

/// The gateway protocol's version: raise it with any change to `node_protocol.hpp`.
constexpr int protocol_version = 2;

/// FNV-1a, 64 bits: a fingerprint of the kinds, not a secret.
void mix(std::uint64_t& h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= 0xff; // separates "ab","c" from "a","bc"
  h *= 1099511628211ull;
}

} // namespace

std::string node_hex(const unsigned char* data, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string node_app_id(const kind_registry& kinds) {
  std::uint64_t h = 1469598103934665603ull;
  for (auto& name : kinds.names()) { // sorted: the order kinds were added does not matter
    auto* k = kinds.find(name);
    mix(h, k->name);
    for (auto& r : k->requests) {
      mix(h, r.type_name);
      for (auto& f : r.fields)
        mix(h, f);
      mix(h, r.reply_tag ? r.reply_tag->info->name() : "");
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return "loopbridge-nodes/" + std::to_string(protocol_version) + "/" + buf;
}

void add_node_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<node_call>("loopbridge.node_call");
  cfg.add_message_type<node_answer>("loopbridge.node_answer");
}

std::string node_nonce() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("the system's random source failed");
  return node_hex(bytes, sizeof bytes);
}

std::string node_proof(const std::string& secret, std::string_view role,
                       const std::string& first_nonce, const std::string& second_nonce) {
  std::string message;
  message.reserve(role.size() + first_nonce.size() + second_nonce.size() + 2);
  message.append(role).append("|").append(first_nonce).append("|").append(second_nonce);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &n))
    throw std::runtime_error("HMAC-SHA256 failed");
  return node_hex(mac, n);
}

bool node_proofs_equal(const std::string& a, const std::string& b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace loopbridge::detail
