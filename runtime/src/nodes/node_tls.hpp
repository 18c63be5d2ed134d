#pragma once

// A process's TLS identity toward other nodes: checking its files before CAF's TLS layer reads
// them, and loading that layer.

#include <string>
#include <string_view>

#include <memory>

#include <caf/fwd.hpp>

struct evp_pkey_st; // libcrypto's EVP_PKEY

#include "loopbridge/result.hpp"
#include "loopbridge/runtime_options.hpp"

namespace loopbridge::detail {

/// Why `tls` cannot be this process's identity, in words, or empty when it can: a file that
/// cannot be read, a certificate or key that is not PEM (or an encrypted key whose passphrase
/// variable is unset or wrong), a
/// key that is not the certificate's, or a certificate that `cafile` does not accept (another
/// CA, expired). CAF's TLS layer would throw inside its network thread on the same files; it
/// is given only files that passed. Any thread; reads the files.
std::string tls_problem(const tls_spec& tls);

/// The private key of a TLS identity, read (and decrypted) once, that signs what a node proves
/// (SHA-256 for RSA and EC keys, the key's own scheme for Ed25519 and Ed448).
///
/// Threads: made on any thread; `sign` from one thread at a time.
class tls_signer {
public:
  /// Reads the key of `tls` (checked by `tls_problem`) and its passphrase's variable.
  explicit tls_signer(const tls_spec& tls);
  /// `message` signed, hex-encoded; `loop.bad_request` saying why when the key cannot sign
  /// (or could not be read).
  result<std::string> sign(std::string_view message) const;

private:
  std::shared_ptr<evp_pkey_st> key_;
  std::string file_;
  std::string unreadable_; ///< why the key could not be read; empty when it was
};

/// Why `signature` (hex, from `tls_signer::sign`) is not `message` signed with the key of the first
/// certificate in `certificate_file`, in words; empty when it is. Any thread; reads the file.
std::string tls_signature_problem(const std::string& certificate_file, std::string_view message,
                                  const std::string& signature);

/// Why `certificate_file` holds no PEM certificate this process can read, or empty.
std::string tls_certificate_problem(const std::string& certificate_file);

/// Loads CAF's TLS layer into `cfg` with `tls` (checked by `tls_problem`) as this process's
/// certificate, key and trusted CA: every TLS connection, in and out, then requires a peer
/// whose certificate that CA signed.
void load_tls(caf::actor_system_config& cfg, const tls_spec& tls);

} // namespace loopbridge::detail
