#pragma once

// Signer: the enclave's signing key, loaded from PKCS#8, and per-thread signing contexts.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Signer> signer, Signer::FromPkcs8(pkcs8, KeyType::kP521));
//   ASSIGN_OR_RETURN(std::unique_ptr<SigningContext> ctx, signer->NewContext());  // per thread
//   uint8_t sig[kMaxSignatureSize];
//   ASSIGN_OR_RETURN(size_t n, ctx->Sign(message, absl::MakeSpan(sig)));
//
// Key types and what Sign() produces (the seed's v1 is ECDSA with SHA-256 over the message):
//   p256, p384, p521  ECDSA over SHA-256(message), DER-encoded ECDSA-Sig-Value (OpenSSL)
//   secp256k1         ECDSA over SHA-256(message) by libsecp256k1 (RFC 6979 nonces, low-s
//                     normalised as libsecp256k1 always does), DER-encoded
//   ed25519           PureEdDSA over the message (RFC 8032), the 64-byte signature
//
// Key material: the private key lives only in OpenSSL objects (whose private BIGNUMs use the
// secure heap when main() set one up) and, for secp256k1, in a locked SecretBytes holding the
// 32-byte scalar that libsecp256k1 needs (its mlock outcome goes to KeyMemoryLock, which logs a
// refusal once). Nothing else here logs; errors never carry key bytes.
//
// Thread-safety: a Signer is immutable after creation and may be shared by any number of
// threads. A SigningContext holds the per-thread state that makes signing allocation-free
// (OpenSSL EVP_PKEY_CTX / EVP_MD_CTX, a randomised secp256k1_context): use one per thread.
// A SigningContext borrows its Signer, which must outlive it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"

namespace lockout::signer {

enum class KeyType { kP256, kP384, kP521, kSecp256k1, kEd25519 };

// "p256", "p384", "p521", "secp256k1", "ed25519".
std::string_view KeyTypeName(KeyType type);
// Parses one of the names above. InvalidArgument otherwise (the name is quoted: it comes from
// configuration or a request field, never from key material).
absl::StatusOr<KeyType> ParseKeyType(std::string_view name);

// Largest signature Sign() writes: a DER ECDSA-Sig-Value over P-521 is at most 139 bytes.
inline constexpr size_t kMaxSignatureSize = 144;
// Largest PKCS#8 input accepted (a P-521 PKCS#8 PEM is about 400 bytes).
inline constexpr size_t kMaxPrivateKeySize = 16 * 1024;

class SigningContext;

class Signer final {
 public:
  // Parses an unencrypted PKCS#8 PrivateKeyInfo, DER or PEM ("-----BEGIN PRIVATE KEY-----", what
  // the seed's create_key.py stored), of one of the supported key types. If `expected` is set the
  // key must be of that type. `pkcs8` is only read; the caller keeps (and wipes) it.
  // Errors: InvalidArgument for malformed input, trailing bytes, an unsupported algorithm or
  // curve, or a type other than `expected` (the message names types and sizes only);
  // Internal if OpenSSL or libsecp256k1 fails.
  static absl::StatusOr<std::unique_ptr<Signer>> FromPkcs8(
      const SecretBytes& pkcs8, std::optional<KeyType> expected = std::nullopt);

  // A fresh random key of `type` (tests, benchmarks, key generation inside the enclave).
  static absl::StatusOr<std::unique_ptr<Signer>> Generate(KeyType type);

  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  KeyType key_type() const { return type_; }
  // DER SubjectPublicKeyInfo of the public key.
  const Bytes& public_key_der() const { return spki_der_; }
  // The same, PEM ("-----BEGIN PUBLIC KEY-----").
  const std::string& public_key_pem() const { return spki_pem_; }
  // The raw public key: the uncompressed point 04‖X‖Y for ECDSA keys, the 32-byte key for
  // ed25519.
  const Bytes& public_key_raw() const { return raw_public_; }

  // The private key as unencrypted PKCS#8 DER (key generation: what gets KMS-encrypted).
  absl::StatusOr<SecretBytes> ExportPkcs8() const;

  // A signing context for the calling thread. Errors: Internal if OpenSSL/libsecp256k1 fails.
  absl::StatusOr<std::unique_ptr<SigningContext>> NewContext() const;

  // Convenience for cold paths: a temporary context, one signature, as Bytes.
  absl::StatusOr<Bytes> Sign(ByteView message) const;

 private:
  friend class SigningContext;
  struct Impl;
  Signer(KeyType type, std::unique_ptr<Impl> impl);
  absl::Status ComputePublicForms();

  KeyType type_;
  std::unique_ptr<Impl> impl_;
  Bytes spki_der_;
  std::string spki_pem_;
  Bytes raw_public_;
};

class SigningContext final {
 public:
  ~SigningContext();
  SigningContext(const SigningContext&) = delete;
  SigningContext& operator=(const SigningContext&) = delete;

  // Signs `message` (any length, including empty) into `out` and returns the signature's length.
  // No heap allocation on this path for ECDSA keys (OpenSSL's ed25519 may allocate internally).
  // Errors: InvalidArgument if `out` is smaller than kMaxSignatureSize; Internal if the
  // library fails.
  absl::StatusOr<size_t> Sign(ByteView message, absl::Span<uint8_t> out);

  const Signer& signer() const { return signer_; }

 private:
  friend class Signer;
  struct Impl;
  SigningContext(const Signer& signer, std::unique_ptr<Impl> impl);

  const Signer& signer_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::signer
