#pragma once

// Signer: the enclave's signing key, loaded from PKCS#8, and per-thread signing contexts.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Signer> signer, Signer::FromPkcs8(pkcs8, KeyType::kP521));
//   ASSIGN_OR_RETURN(std::unique_ptr<SigningContext> ctx, signer->NewContext());  // per thread
//   uint8_t sig[kMaxSignatureSize];
//   ASSIGN_OR_RETURN(size_t n, ctx->Sign(message, absl::MakeSpan(sig)));
//   SignOptions jose{.hash = HashAlgorithm::kSha384, .format = SignatureFormat::kRaw};  // ES384
//   ASSIGN_OR_RETURN(n, ctx->Sign(message, jose, absl::MakeSpan(sig)));
//
// Key types and what Sign() produces by default (the seed's v1 is ECDSA with SHA-256 over the
// message; v1 always uses these defaults):
//   p256, p384, p521  ECDSA over SHA-256(message), DER-encoded ECDSA-Sig-Value (OpenSSL; s is
//                     normalised to low-s, s ≤ n/2)
//   secp256k1         ECDSA over SHA-256(message) by libsecp256k1 (RFC 6979 nonces, low-s
//                     normalised as libsecp256k1 always does), DER-encoded
//   ed25519           PureEdDSA over the message (RFC 8032), the 64-byte signature
//
// SignOptions choose the digest and the encoding (docs/PROTOCOL.md §2, "sign"):
//   hash    sha256 (default), sha384, sha512, keccak256 (Ethereum's Keccak-256), or none: the
//           message IS the digest, of exactly PrehashedDigestSize(type) bytes (32 for p256 and
//           secp256k1, 48 for p384, 64 for p521: the sizes of SHA-256/SHA-384/SHA-512, the
//           digests JOSE pairs with each curve). A digest longer than the curve order is
//           truncated to its leftmost bits as ECDSA specifies (FIPS 186-5 §6.4.1; for secp256k1
//           its first 32 bytes, which is also what RFC 6979's nonce derivation uses).
//           ed25519 signs the message itself: only none (or absent).
//   format  der (default): DER ECDSA-Sig-Value; raw: fixed-width r‖s (32/48/66 bytes each, as
//           JOSE ES256/ES384/ES512 and COSE expect); recoverable (secp256k1 only): r‖s‖v, 65
//           bytes, v the recovery id 0 or 1 (Ethereum adds 27, or 35 + 2·chainId, itself).
//           ed25519: only raw (or absent), its 64-byte signature.
// Every ECDSA signature is low-s whatever the format.
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

// The digest a signature is computed over (see above).
enum class HashAlgorithm { kSha256, kSha384, kSha512, kKeccak256, kNone };
// "sha256", "sha384", "sha512", "keccak256", "none".
std::string_view HashAlgorithmName(HashAlgorithm hash);
// Parses one of the names above (exactly; they come from requests and the command line).
// InvalidArgument otherwise, quoting the name when it is short printable text.
absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(std::string_view name);

// How a signature is encoded (see above).
enum class SignatureFormat { kDer, kRaw, kRecoverable };
// "der", "raw", "recoverable".
std::string_view SignatureFormatName(SignatureFormat format);
absl::StatusOr<SignatureFormat> ParseSignatureFormat(std::string_view name);

// What a sign request asks for; absent members take the key type's default (sha256 and der for
// ECDSA keys, none and raw for ed25519), which is what the seed's protocol produces.
struct SignOptions {
  std::optional<HashAlgorithm> hash = std::nullopt;
  std::optional<SignatureFormat> format = std::nullopt;

  bool operator==(const SignOptions&) const = default;
};

// SignOptions with the defaults filled in, checked against a key type.
struct ResolvedSignOptions {
  HashAlgorithm hash;
  SignatureFormat format;
};
// Errors: InvalidArgument (with a message naming the key type, hash and format) for a
// combination the key type cannot sign: ed25519 with a hash other than none or a format other
// than raw; recoverable for a key other than secp256k1.
absl::StatusOr<ResolvedSignOptions> ResolveSignOptions(KeyType type, const SignOptions& options);

// The size a message signed with hash none must have: 32 (p256, secp256k1), 48 (p384), 64
// (p521); 0 for ed25519 (any message).
size_t PrehashedDigestSize(KeyType type);

// The digest of `message` under `hash` (not kNone): what a verifier recomputes. Allocates
// (the signer's hot path uses its context's own hashers). Errors: InvalidArgument for kNone.
absl::StatusOr<Bytes> ComputeDigest(HashAlgorithm hash, ByteView message);

// The secp256k1 public key (uncompressed, 04‖X‖Y) that produced the recoverable signature
// `signature` (r‖s‖v, 65 bytes, v 0 or 1) over `digest` (at least 32 bytes; its first 32 are
// used, as when signing). Errors: InvalidArgument for a malformed signature or digest, or one
// from which no key can be recovered.
absl::StatusOr<Bytes> RecoverSecp256k1PublicKey(ByteView digest, ByteView signature);
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
  absl::StatusOr<Bytes> Sign(ByteView message, const SignOptions& options = {}) const;

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

  // As above with a chosen hash and format (see the top of this file). Allocation-free as above
  // for every ECDSA combination. Errors, besides the above: InvalidArgument for a combination
  // ResolveSignOptions refuses, or (hash none) a message that is not PrehashedDigestSize bytes;
  // the message names sizes and names, never bytes.
  absl::StatusOr<size_t> Sign(ByteView message, const SignOptions& options,
                              absl::Span<uint8_t> out);

  const Signer& signer() const { return signer_; }

 private:
  friend class Signer;
  struct Impl;
  SigningContext(const Signer& signer, std::unique_ptr<Impl> impl);

  const Signer& signer_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::signer
