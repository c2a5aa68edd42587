#include "src/crypto/rsa_key.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "src/crypto/ec_private_key.h"

namespace lockout::crypto {
namespace {

// Generous upper bounds for DER of a 4096-bit key (SPKI ~550 bytes, PKCS#8 ~2.4 KiB), checked
// before OpenSSL sees the bytes.
constexpr size_t kMaxSpkiDerSize = 2048;
constexpr size_t kMaxPkcs8DerSize = 8192;

using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO,
                                 OsslDeleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;

}  // namespace

absl::StatusOr<EvpPkeyPtr> GenerateRsa2048Key() {
  using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_primes(ctx.get(), kRsaRecipientPrimes) <= 0 ||
      EVP_PKEY_generate(ctx.get(), &raw) <= 0) {
    return OpenSslError("RSA-2048 key generation failed");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<Bytes> PublicKeyToSpkiDer(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("public key export: null key");
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return OpenSslError("public key export: i2d_PUBKEY failed");
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(key, &out) != len) return OpenSslError("public key export: i2d_PUBKEY failed");
  return der;
}

absl::Status CheckRsaRecipientKey(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("RSA key: null key");
  // EVP_PKEY_is_a() is false for RSA-PSS keys, which cannot do OAEP key transport.
  if (!EVP_PKEY_is_a(key, "RSA")) return absl::InvalidArgumentError("RSA key: not an RSA key");
  int bits = EVP_PKEY_get_bits(key);
  if (bits < kRsaRecipientMinBits || bits > kRsaRecipientMaxBits) {
    return absl::InvalidArgumentError(absl::StrCat("RSA key: modulus of ", bits,
                                                   " bits is outside [", kRsaRecipientMinBits, ", ",
                                                   kRsaRecipientMaxBits, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EvpPkeyPtr> RsaPublicKeyFromSpkiDer(ByteView der) {
  if (der.empty() || der.size() > kMaxSpkiDerSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA SPKI: size ", der.size(), " outside [1, ", kMaxSpkiDerSize, "]"));
  }
  const unsigned char* p = der.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr) {
    return OpenSslError("RSA SPKI: not a DER SubjectPublicKeyInfo",
                        absl::StatusCode::kInvalidArgument);
  }
  size_t consumed = static_cast<size_t>(p - der.data());
  if (consumed != der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA SPKI: ", der.size() - consumed, " trailing bytes"));
  }
  absl::Status ok = CheckRsaRecipientKey(key.get());
  if (!ok.ok()) return ok;
  // OpenSSL's decoder is lenient (it ignores the rsaEncryption parameters and accepts non-zero
  // unused bits in the BIT STRING). An RSA SPKI has exactly one DER encoding, so insist on it:
  // re-encode and compare.
  absl::StatusOr<Bytes> canonical = PublicKeyToSpkiDer(key.get());
  if (!canonical.ok()) return canonical.status();
  if (*canonical != Bytes(der.begin(), der.end())) {
    return absl::InvalidArgumentError("RSA SPKI: not the canonical DER encoding");
  }
  return key;
}

absl::StatusOr<SecretBytes> RsaPrivateKeyToPkcs8Der(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("RSA PKCS#8 export: null key");
  if (!EVP_PKEY_is_a(key, "RSA")) {
    return absl::InvalidArgumentError("RSA PKCS#8 export: not an RSA key");
  }
  return PrivateKeyToPkcs8Der(key);
}

absl::StatusOr<EvpPkeyPtr> RsaPrivateKeyFromPkcs8Der(ByteView der) {
  if (der.empty() || der.size() > kMaxPkcs8DerSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA PKCS#8: size ", der.size(), " outside [1, ", kMaxPkcs8DerSize, "]"));
  }
  const unsigned char* p = der.data();
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (info == nullptr) {
    return OpenSslError("RSA PKCS#8: not a DER PrivateKeyInfo", absl::StatusCode::kInvalidArgument);
  }
  size_t consumed = static_cast<size_t>(p - der.data());
  if (consumed != der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA PKCS#8: ", der.size() - consumed, " trailing bytes"));
  }
  EvpPkeyPtr key(EVP_PKCS82PKEY(info.get()));
  if (key == nullptr) {
    return OpenSslError("RSA PKCS#8: unsupported private key", absl::StatusCode::kInvalidArgument);
  }
  absl::Status ok = CheckRsaRecipientKey(key.get());
  if (!ok.ok()) return ok;
  return key;
}

}  // namespace lockout::crypto
