// A process's TLS identity toward other nodes, checked with libcrypto before CAF's TLS layer
// (caf::openssl) is loaded with it.
#include "nodes/node_tls.hpp"

#include "nodes/node_protocol.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "loopbridge/text.hpp"

namespace loopbridge::detail {

namespace {

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct key_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct store_free {
  void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
};
struct store_ctx_free {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct chain_free {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};

/// libcrypto's oldest queued error, then clears the queue.
std::string crypto_reason() {
  auto e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/// Refuses a passphrase prompt: libcrypto's default callback would read one from the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

/// Gives libcrypto the passphrase `user` points at (a std::string).
int given_passphrase(char* buf, int size, int, void* user) {
  auto& p = *static_cast<const std::string*>(user);
  if (p.size() > static_cast<std::size_t>(size))
    return 0;
  std::memcpy(buf, p.data(), p.size());
  return static_cast<int>(p.size());
}

/// A TLS file that cannot be used, saying why.
error unusable(std::string why) {
  return error{errc::bad_request, std::move(why)};
}

/// `path` opened for reading, or why it cannot be.
result<std::unique_ptr<std::FILE, file_closer>> open_file(const std::string& path) {
  std::unique_ptr<std::FILE, file_closer> f{std::fopen(path.c_str(), "r")};
  if (!f)
    return unusable("cannot read " + quote(path) + ": " + std::strerror(errno));
  return f;
}

/// The passphrase of `tls`'s key from its variable ("" for an unencrypted key); an error when
/// the variable is named but not set.
result<std::string> passphrase_of(const tls_spec& tls) {
  if (tls.passphrase_env.empty())
    return std::string{};
  const char* p = std::getenv(tls.passphrase_env.c_str());
  if (!p || !*p)
    return unusable("the passphrase variable " + tls.passphrase_env + " of the key " +
                    quote(tls.key) + " is not set");
  return std::string{p};
}

/// The private key in `tls.key`, decrypted with its passphrase if it has one.
result<std::unique_ptr<EVP_PKEY, key_free>> read_key(const tls_spec& tls) {
  auto passphrase = passphrase_of(tls);
  if (!passphrase)
    return std::move(passphrase).error();
  auto f = open_file(tls.key);
  if (!f)
    return std::move(f).error();
  std::unique_ptr<EVP_PKEY, key_free> key{
      tls.passphrase_env.empty()
          ? PEM_read_PrivateKey(f->get(), nullptr, no_passphrase, nullptr)
          : PEM_read_PrivateKey(f->get(), nullptr, given_passphrase, &*passphrase)};
  if (!key)
    return unusable("the key " + quote(tls.key) + " is not a PEM private key that " +
                    (tls.passphrase_env.empty()
                         ? "needs no passphrase (an encrypted key needs passphrase_env)"
                         : "the passphrase in " + tls.passphrase_env + " decrypts") +
                    " (" + crypto_reason() + ")");
  return key;
}

/// The digest `key` signs with: none for the schemes that hash themselves (Ed25519, Ed448).
const EVP_MD* digest_for(EVP_PKEY* key) {
  auto id = EVP_PKEY_get_base_id(key);
  return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

/// The bytes of `text` (hex), or nullopt when it is not hex.
std::optional<std::vector<unsigned char>> unhex(const std::string& text) {
  auto value = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  if (text.size() % 2 != 0)
    return std::nullopt;
  std::vector<unsigned char> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = value(text[i]), lo = value(text[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return out;
}

/// The first certificate in `path`.
result<std::unique_ptr<X509, x509_free>> read_certificate(const std::string& path) {
  auto f = open_file(path);
  if (!f)
    return std::move(f).error();
  std::unique_ptr<X509, x509_free> cert{PEM_read_X509(f->get(), nullptr, no_passphrase, nullptr)};
  if (!cert)
    return unusable(quote(path) + " is not a PEM certificate (" + crypto_reason() + ")");
  return cert;
}

} // namespace

tls_signer::tls_signer(const tls_spec& tls) : file_(tls.key) {
  ERR_clear_error();
  if (auto key = read_key(tls))
    key_ = std::move(*key);
  else
    unreadable_ = key.error().message();
}

result<std::string> tls_signer::sign(std::string_view message) const {
  if (!key_)
    return unusable(unreadable_);
  ERR_clear_error();
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx{EVP_MD_CTX_new()};
  std::size_t size = 0;
  auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, digest_for(key_.get()), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, message.size()) != 1)
    return unusable("the key " + quote(file_) + " cannot sign (" + crypto_reason() + ")");
  std::vector<unsigned char> signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, data, message.size()) != 1)
    return unusable("the key " + quote(file_) + " cannot sign (" + crypto_reason() + ")");
  return node_hex(signature.data(), size);
}

std::string tls_signature_problem(const std::string& certificate_file, std::string_view message,
                                  const std::string& signature) {
  ERR_clear_error();
  auto cert = read_certificate(certificate_file);
  if (!cert)
    return cert.error().message();
  auto bytes = unhex(signature);
  if (!bytes || bytes->empty())
    return "no signature";
  std::unique_ptr<EVP_PKEY, key_free> key{X509_get_pubkey(cert->get())};
  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx{EVP_MD_CTX_new()};
  if (!key || !ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(key.get()), nullptr, key.get()) != 1)
    return "cannot check with the key of " + quote(certificate_file) + " (" + crypto_reason() + ")";
  auto ok =
      EVP_DigestVerify(ctx.get(), bytes->data(), bytes->size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return ok == 1 ? std::string{}
                 : "the signature is not made with the key of " + quote(certificate_file);
}

std::string tls_certificate_problem(const std::string& certificate_file) {
  ERR_clear_error();
  auto cert = read_certificate(certificate_file);
  return cert ? std::string{} : cert.error().message();
}

std::string tls_problem(const tls_spec& tls) {
  if (tls.certificate.empty() || tls.key.empty() || tls.cafile.empty())
    return "TLS needs a certificate, its key and a cafile, all three";
  ERR_clear_error();
  auto cert_file = open_file(tls.certificate);
  if (!cert_file)
    return cert_file.error().message();
  std::unique_ptr<X509, x509_free> cert{
      PEM_read_X509(cert_file->get(), nullptr, no_passphrase, nullptr)};
  if (!cert)
    return "the certificate " + quote(tls.certificate) + " is not a PEM certificate (" +
           crypto_reason() + ")";
  // Certificates after the first are its chain, sent to the peer as CAF does.
  std::unique_ptr<STACK_OF(X509), chain_free> chain{sk_X509_new_null()};
  while (auto* more = PEM_read_X509(cert_file->get(), nullptr, no_passphrase, nullptr))
    sk_X509_push(chain.get(), more);
  ERR_clear_error(); // the end of the file
  auto key = read_key(tls);
  if (!key)
    return key.error().message();
  if (X509_check_private_key(cert.get(), key->get()) != 1) {
    ERR_clear_error();
    return "the key " + quote(tls.key) + " is not the key of the certificate " +
           quote(tls.certificate);
  }
  std::unique_ptr<X509_STORE, store_free> store{X509_STORE_new()};
  if (!store || X509_STORE_load_file(store.get(), tls.cafile.c_str()) != 1)
    return "the cafile " + quote(tls.cafile) + " holds no PEM certificate that can be read (" +
           crypto_reason() + ")";
  std::unique_ptr<X509_STORE_CTX, store_ctx_free> check{X509_STORE_CTX_new()};
  if (!check || X509_STORE_CTX_init(check.get(), store.get(), cert.get(), chain.get()) != 1)
    return "cannot check the certificate " + quote(tls.certificate) + " (" + crypto_reason() + ")";
  if (X509_verify_cert(check.get()) != 1) {
    auto why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(check.get()));
    ERR_clear_error();
    return "the certificate " + quote(tls.certificate) + " is not accepted by the cafile " +
           quote(tls.cafile) + ": " + why;
  }
  return {};
}

void load_tls(caf::actor_system_config& cfg, const tls_spec& tls) {
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.cafile;
  if (auto passphrase = passphrase_of(tls))
    cfg.openssl_passphrase = *passphrase;
}

} // namespace loopbridge::detail
