#pragma once

// ECDSA P-384 with SHA-384 in COSE's signature format (RFC 8152 §8.1: raw r || s, each
// left-padded to 48 bytes) rather than OpenSSL's DER ECDSA-Sig-Value.
// Thread-safe (keys are only read).

#include <openssl/evp.h>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::attest {

// True when `key` is an EC key on secp384r1 (P-384).
bool IsP384Key(EVP_PKEY* key);

// Signs SHA-384(message) with a P-384 private key; returns 96 bytes r || s.
// Errors: InvalidArgument if the key is not P-384, Internal on OpenSSL failure.
absl::StatusOr<Bytes> Es384Sign(EVP_PKEY* key, ByteView message);

// Verifies a 96-byte r || s signature over SHA-384(message). Returns false for any malformed
// signature or mismatch; never errors.
bool Es384Verify(EVP_PKEY* key, ByteView message, ByteView signature);

}  // namespace lockout::attest
