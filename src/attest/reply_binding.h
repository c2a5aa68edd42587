#pragma once

// Attested replies (docs/PROTOCOL.md §2, "Attested replies"): the one definition of what an
// attested sign reply's attestation document commits to. Used by the enclave (which puts the
// binding into the document's user_data), by `lockout verify --attested` (which recomputes it)
// and mirrored, from the document, by tests/integration/lockout_client.py.
//
// A v2 sign request asks for proof with one more member, covered by the client's request
// signature like every member but "id" and "auth" (request_auth.h):
//
//   {"id": 7, "op": "sign", "message": "<base64>", "attest": {"nonce": "<base64, 1..512 bytes>"}}
//
// The reply then carries "attestation": an NSM document whose nonce is that nonce, whose
// public_key is the signing key's DER SubjectPublicKeyInfo and whose user_data is
//
//   binding = SHA-256( "lockout-attested-reply-v1"     the 25 ASCII bytes (domain separation)
//                      || u8 kind                      1: unauthenticated, 2: authenticated
//                      || STR(request digest)          u32be length || the 32 bytes
//                      || STR(signature)               u32be length || the signature's bytes
//                      || STR(spki) )                  u32be length || the SPKI DER
//
// where the request digest is, for a request without "auth" (kind 1), SHA-256 of the decoded
// message, and for a request with "auth" (kind 2), SHA-256 of its canonical encoding
// (auth::CanonicalRequest: tag, client, timestamp, auth nonce, and every member but "id" and
// "auth" - op, message, key, attest). The kind byte keeps the two digests apart.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/crypto/hash.h"

namespace lockout::attest {

inline constexpr std::string_view kReplyBindingTag = "lockout-attested-reply-v1";
// The nonce of an attested sign request: 1..512 bytes (the NSM's limit).
inline constexpr size_t kMaxAttestedNonceBytes = 512;

enum class RequestDigestKind : uint8_t {
  kUnauthenticated = 1,  // SHA-256(message)
  kAuthenticated = 2,    // SHA-256(canonical request encoding)
};

struct RequestDigest {
  RequestDigestKind kind = RequestDigestKind::kUnauthenticated;
  crypto::Sha256Digest digest{};
};

// The "attest" member of a sign request: nullopt when absent (a plain sign); the decoded nonce
// when it is an object with exactly the member "nonce" (standard base64 with padding, 1..512
// bytes). InvalidArgument naming the field otherwise (never its value).
absl::StatusOr<std::optional<Bytes>> ParseAttestMember(const nlohmann::json& request);

// The request digest of a sign request object (as sent: "auth" decides the kind; "message" must
// be base64). InvalidArgument if "message" is missing or not base64, or "auth" is malformed or the
// request has no canonical encoding.
absl::StatusOr<RequestDigest> AttestedRequestDigest(const nlohmann::json& request);

// The binding above, the document's user_data.
crypto::Sha256Digest ReplyBinding(const RequestDigest& request, ByteView signature,
                                  ByteView spki_der);

// A key born in the enclave (generate_key, docs/PROTOCOL.md §2): its document is the attest op's
// (public_key = SPKI, user_data = SHA-256(SPKI)) with the nonce
//
//   SHA-256( "lockout-generate-key-v1" || STR(secret name) || STR(KMS key ARN) )
//
// so the client that asked sees where the key was stored: a request altered on its way (root on
// the parent naming its own KMS key, without a signing policy to stop it) gives another nonce.
inline constexpr std::string_view kGenerateKeyBindingTag = "lockout-generate-key-v1";
crypto::Sha256Digest GenerateKeyBinding(std::string_view secret_name, std::string_view kms_key_arn);

// An HD seed born in the enclave (generate_key with "hd": true): the document's public_key is the
// master key m's SPKI and its nonce GenerateKeyBinding above; its user_data is
//
//   SHA-256( "lockout-generate-hd-v1" || STR(SPKI of m) || STR(xpub of m, empty but secp256k1) )
//
// so the xpub the client derives child keys from is attested (its chain code included), and a
// single key's document (user_data = SHA-256(SPKI)) cannot pass for a seed's or back.
inline constexpr std::string_view kGenerateHdBindingTag = "lockout-generate-hd-v1";
crypto::Sha256Digest GenerateHdBinding(ByteView master_spki_der, std::string_view xpub);

}  // namespace lockout::attest
