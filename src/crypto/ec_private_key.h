#pragma once

// Unencrypted PKCS#8 PrivateKeyInfo (DER) from raw private key bytes: an EC scalar on a named
// curve, or an Ed25519 private key (the RFC 8032 32-byte seed). Used where a key is computed
// rather than generated (HD derivation) and must be handed to signer::Signer::FromPkcs8.
//
// The key passes only through OpenSSL objects (private BIGNUMs on the secure heap when one is
// set up) and SecretBytes; errors carry sizes and curve names, never key bytes.
// Thread-safe (no shared state).

#include <string_view>

#include <openssl/evp.h>

#include "absl/status/statusor.h"
#include "src/common/secret_bytes.h"

namespace lockout::crypto {

// `group_name` is an OpenSSL group name ("P-256", "secp256k1", ...); `scalar` is the big-endian
// private scalar, exactly the group's order size in bytes (32 for the curves above), in
// [1, n-1]. The PKCS#8 holds the ECPrivateKey with its public point (uncompressed), so OpenSSL's
// pairwise check passes on import.
// Errors: InvalidArgument for an unknown group, a wrong size or an out-of-range scalar;
// Internal if OpenSSL fails.
absl::StatusOr<SecretBytes> EcPrivateKeyToPkcs8(std::string_view group_name,
                                                const SecretBytes& scalar);

// `private_key` is the 32-byte Ed25519 private key (seed). Errors: InvalidArgument for another
// size; Internal if OpenSSL fails.
absl::StatusOr<SecretBytes> Ed25519PrivateKeyToPkcs8(const SecretBytes& private_key);

// PKCS#8 DER of any private EVP_PKEY. Errors: InvalidArgument if `key` holds no private key.
absl::StatusOr<SecretBytes> PrivateKeyToPkcs8Der(const EVP_PKEY* key);

}  // namespace lockout::crypto
