#pragma once

// The authenticated v2 request (docs/PROTOCOL.md §2, "Authenticated requests"): the "auth"
// member of a request and the canonical encoding its signature covers.
//
//   {"id": 7, "op": "sign", "message": "aGVsbG8=",
//    "auth": {"client": "gateway", "timestamp": 1765000000000,
//             "nonce": "<base64, 16..64 bytes>", "signature": "<base64>"}}
//
// The canonical encoding is what the client signs and the enclave verifies:
//
//   "lockout-authenticated-request-v1"   the 32-byte ASCII tag (domain separation)
//   STR(client)                          u32be length || the client name's bytes
//   I64(timestamp)                       8 bytes, big-endian: unix time in milliseconds
//   STR(nonce)                           u32be length || the nonce's raw (decoded) bytes
//   VALUE(request)                       the request object without its "id" and "auth"
//
// VALUE encodes a JSON value with a one-byte type tag:
//   null 'n'; false 'f'; true 't'; integer 'i' || I64 (a number with a fraction or exponent, or
//   outside the int64 range, cannot be encoded: such a request is refused);
//   string 's' || STR(UTF-8 bytes after JSON unescaping);
//   array 'a' || u32be(count) || VALUE...;
//   object 'o' || u32be(count) || (STR(name) || VALUE)... with members sorted by the bytes of
//   their names (names are unique: the enclave refuses a request naming one member twice).
//
// Every member but "id" and "auth" is covered, so the fields issue 14 adds (hash, format,
// derivation path, transaction) are covered the moment a client sends them, without a new
// encoding; a member the enclave does not know still changes the signature. "id" is not covered:
// it selects no behaviour (it is echoed), and replies are not authenticated anyway.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::auth {

class ClientKey;

inline constexpr std::string_view kRequestTag = "lockout-authenticated-request-v1";
inline constexpr size_t kMinNonceBytes = 16;
inline constexpr size_t kMaxNonceBytes = 64;
// How deep a request's values may nest (the request object itself is depth 1).
inline constexpr int kMaxCanonicalDepth = 8;

// A client name as the signing policy allows it (one rule, signpolicy's).
using signpolicy::IsValidClientName;

// The "auth" member of a request, decoded.
struct AuthFields {
  std::string client;    // as sent: 1..64 characters of A-Z a-z 0-9 . _ -
  int64_t timestamp_ms;  // unix time in milliseconds, >= 0
  Bytes nonce;           // kMinNonceBytes..kMaxNonceBytes
  Bytes signature;       // 1..kMaxClientSignatureSize bytes
};

// Parses the value of a request's "auth" member. Strict: an object with exactly the members
// client, timestamp, nonce, signature, of the types and sizes above; base64 in the standard
// alphabet with padding. Errors: InvalidArgument naming the field (never its value).
absl::StatusOr<AuthFields> ParseAuthFields(const nlohmann::json& auth);

// The canonical encoding of `request` (a JSON object; its "id" and "auth" members are skipped)
// signed by `client` at `timestamp_ms` with `nonce`. Errors: InvalidArgument if `request` is not
// an object, holds a non-integer number or one outside int64, or nests deeper than
// kMaxCanonicalDepth.
absl::StatusOr<std::string> CanonicalRequest(const nlohmann::json& request, std::string_view client,
                                             int64_t timestamp_ms, ByteView nonce);

// The client's side: adds "auth" to `request` (replacing any), signed by `key` at `now` with a
// fresh random 32-byte nonce. Errors: those of CanonicalRequest and ClientKey::Sign.
absl::Status SignRequest(const ClientKey& key, absl::Time now, nlohmann::json& request);

}  // namespace lockout::auth
