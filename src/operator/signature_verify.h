#pragma once

// `lockout verify`: checks a signature the enclave made, with OpenSSL alone (and libsecp256k1 to
// recover the key of a recoverable signature).
//   EC keys (p256, p384, p521, secp256k1): ECDSA over a digest of the message, by default
//   SHA-256 and a DER ECDSA-Sig-Value; SignOptions choose another hash (or none: the message is
//   the digest) and format (raw r‖s; recoverable r‖s‖v for secp256k1, whose recovered key must
//   also be this public key), as for the enclave's sign request (src/signer/signer.h).
//   Ed25519: PureEdDSA over the message, the 64-byte raw signature.
// The public key is a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as create-key and the enclave's
// public_key op print it.
// Errors: InvalidArgument for an unusable key (not PEM, unsupported type), options the key type
// cannot sign with (signer::ResolveSignOptions) or, for hash none, a message that is not a
// digest of the key's size; Unauthenticated ("signature does not verify") for a well-formed key
// and a wrong or malformed signature, or a recoverable one whose recovered key is another.
// Thread-safety: pure function.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/signer/signer.h"

namespace lockout::ops {

// The key's type name ("p256", "p384", "p521", "secp256k1", "ed25519") for a PEM public key.
absl::StatusOr<std::string> PublicKeyType(std::string_view public_key_pem);

absl::Status VerifySignature(std::string_view public_key_pem, ByteView message, ByteView signature,
                             const signer::SignOptions& options = {});

}  // namespace lockout::ops
