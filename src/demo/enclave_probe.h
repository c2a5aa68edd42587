#pragma once

// What the demo asks a running lockout-enclave (docs/PROTOCOL.md), and how it checks the answer.
//
// SignV1 is the seed's test.py: a new connection, {"bytes": B64}$$$, read one $$$-terminated
// reply, which must be {"success": "True", "data": "0x<hex DER>"}. RequestV2 sends one v2 frame
// and returns the reply object. VerifySignature checks a signature the way a client of the seed
// would: ECDSA over SHA-256(message) (DER) for EC keys, PureEdDSA (raw 64 bytes) for Ed25519.
// Errors: Unavailable (connect/read), FailedPrecondition (the enclave answered with an error,
// whose generic reason is in the message), InvalidArgument (a malformed reply or signature).
// Thread-safety: free functions, no shared state.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/net/endpoint.h"

namespace lockout::demo {

// The message the seed's test.py signs.
inline constexpr std::string_view kSeedTestMessage = "Hello, sign this message!";

// The DER (or raw Ed25519) signature bytes from the enclave's v1 reply.
absl::StatusOr<Bytes> SignV1(const net::Endpoint& enclave, ByteView message,
                             absl::Duration timeout = absl::Seconds(10));

// One v2 request (`request` gets an "id" if it has none); the reply object.
absl::StatusOr<nlohmann::json> RequestV2(const net::Endpoint& enclave, nlohmann::json request,
                                         absl::Duration timeout = absl::Seconds(10));

// OK if `signature` is `message`'s signature under the public key `public_key_pem`.
absl::Status VerifySignature(std::string_view public_key_pem, ByteView message, ByteView signature);

// SHA-256 of the key's SubjectPublicKeyInfo (DER), hex: a fingerprint for humans.
absl::StatusOr<std::string> PublicKeyFingerprint(std::string_view public_key_pem);

}  // namespace lockout::demo
