#pragma once

// `lockout verify`: checks a signature the enclave made, with OpenSSL alone.
//   EC keys (p256, p384, p521, secp256k1): ECDSA over SHA-256(message), DER ECDSA-Sig-Value.
//   Ed25519: PureEdDSA over the message, the 64-byte raw signature.
// The public key is a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as create-key and the enclave's
// public_key op print it.
// Errors: InvalidArgument for an unusable key (not PEM, unsupported type); Unauthenticated
// ("signature does not verify") for a well-formed key and a wrong/malformed signature.
// Thread-safety: pure function.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::ops {

// The key's type name ("p256", "p384", "p521", "secp256k1", "ed25519") for a PEM public key.
absl::StatusOr<std::string> PublicKeyType(std::string_view public_key_pem);

absl::Status VerifySignature(std::string_view public_key_pem, ByteView message, ByteView signature);

}  // namespace lockout::ops
