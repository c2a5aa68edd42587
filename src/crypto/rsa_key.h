#pragma once

// RSA key helpers for the KMS Recipient flow (ARCHITECTURE §1 step 3).
//
// The enclave makes a fresh RSA-2048 key pair, puts the public key's SubjectPublicKeyInfo (DER)
// into the attestation document's `public_key` field, and decrypts KMS's CiphertextForRecipient
// with the private key (src/crypto/cms_envelope.h). The local KMS emulator reads the SPKI back
// from the attestation document to build the envelope.
//
// All functions are thread-safe (no shared state). Keys are returned as owning EvpPkeyPtr.
// Private key encodings are SecretBytes; errors never carry key bytes.

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/openssl_util.h"

namespace lockout::crypto {

// Modulus sizes accepted for KMS recipient keys. KMS requires RSA-2048 (and uses OAEP-SHA-256);
// we also accept larger keys up to 4096 bits so the check does not pin us to one size.
inline constexpr int kRsaRecipientMinBits = 2048;
inline constexpr int kRsaRecipientMaxBits = 4096;

// Primes of the recipient key's modulus. The key lives for one boot and one purpose: receiving
// the wrapped signing key from KMS (RSAES-OAEP-SHA-256). A 2048-bit modulus of three ~683-bit
// primes (RFC 8017 multi-prime RSA; OpenSSL's limit for 2048 bits is 3) is generated in about a
// quarter of the time of two primes (medians of 50 ms against 188 ms on the 2-vCPU machine of
// docs/PERFORMANCE.md), which is most of the enclave's cold start; KMS sees only the public key
// (n, e), identical in form. Factoring n is no easier: the general number field sieve does not
// care how many factors n has, and ECM cannot find 683-bit factors. What it gives up is FIPS
// 186-5, which allows two primes only; lockout does not claim FIPS validation.
inline constexpr int kRsaRecipientPrimes = 3;

// Generates a fresh RSA key pair with a 2048-bit modulus of kRsaRecipientPrimes primes and
// e = 65537. Errors: kInternal if OpenSSL fails (e.g. the RNG).
absl::StatusOr<EvpPkeyPtr> GenerateRsa2048Key();

// Encodes the public half of `key` (any key type) as DER SubjectPublicKeyInfo.
// `key` is borrowed. Errors: kInvalidArgument if `key` is null, kInternal on encoder failure.
absl::StatusOr<Bytes> PublicKeyToSpkiDer(const EVP_PKEY* key);

// Parses a DER SubjectPublicKeyInfo holding an RSA public key of kRsaRecipientMinBits to
// kRsaRecipientMaxBits bits (untrusted input: the attestation document's public_key).
// Errors (kInvalidArgument): empty/oversized input, not DER SPKI, trailing bytes, not RSA,
// modulus size out of range.
absl::StatusOr<EvpPkeyPtr> RsaPublicKeyFromSpkiDer(ByteView der);

// True if `key` is an RSA key (public or private) of an accepted recipient size.
absl::Status CheckRsaRecipientKey(const EVP_PKEY* key);

// Encodes an RSA private key as unencrypted PKCS#8 PrivateKeyInfo DER, into SecretBytes.
// Errors: kInvalidArgument if `key` is null or not an RSA private key; kInternal otherwise.
absl::StatusOr<SecretBytes> RsaPrivateKeyToPkcs8Der(const EVP_PKEY* key);

// Parses an unencrypted PKCS#8 PrivateKeyInfo DER holding an RSA private key of an accepted size.
// Errors (kInvalidArgument): malformed DER, trailing bytes, not RSA, size out of range.
absl::StatusOr<EvpPkeyPtr> RsaPrivateKeyFromPkcs8Der(ByteView der);

}  // namespace lockout::crypto
