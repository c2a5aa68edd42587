#pragma once

// `lockout verify --attested`: the attested-reply file and its verification (docs/PROTOCOL.md
// §2, "Attested replies"; the binding itself is reply_binding.h).
//
// The file `lockout sign --attest --out FILE` writes (JSON, at most kMaxAttestedReplyFile bytes):
//
//   {"format": "lockout-attested-reply-v1",
//    "request": {...the sign request as sent, without "id": op, message, attest, key, auth...},
//    "signature": "<hex>",                  the reply's signature
//    "attestation": "<base64>"}             the reply's attestation document (COSE_Sign1)
//
// Exactly these members, none twice; "request" is a sign request carrying "attest". The file is
// untrusted input (it may come from anywhere): every check below is made against it.
//
// A reply is accepted when, for the message the verifier has (not the one in the file):
//   message    the request's message is that message
//   document   the document verifies (COSE ES384 + chain) to a trusted root at `at`
//   pcrs       every expected PCR equals the document's
//   nonce      the document's nonce is the request's attest nonce (and the expected one, if given)
//   binding    the document's user_data is ReplyBinding(request digest, signature, public_key)
//   signature  the signature verifies over the message with the document's public_key
// Every check is made (so a report lists them all); the first that fails is `failure`.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/common/bytes.h"

namespace lockout::attest {

inline constexpr std::string_view kAttestedReplyFormat = "lockout-attested-reply-v1";
inline constexpr size_t kMaxAttestedReplyFile = size_t{1} << 20;

struct AttestedReply {
  nlohmann::json request;  // the sign request as sent (no "id")
  Bytes signature;
  Bytes attestation;  // the document's bytes
};

// Parses the file's text strictly (see above). InvalidArgument naming the member otherwise.
absl::StatusOr<AttestedReply> ParseAttestedReply(std::string_view text);
// The file's text for `reply` (one line of JSON, members in the order above).
std::string AttestedReplyToJson(const AttestedReply& reply);

// How the signature is checked: OK if `signature` verifies over `message` with the key whose DER
// SubjectPublicKeyInfo is `spki_der` (the CLI passes ops::VerifySignature, the one verifier of
// enclave signatures).
using SignatureCheck =
    std::function<absl::Status(ByteView spki_der, ByteView message, ByteView signature)>;

struct AttestedReplyOptions {
  std::vector<Bytes> trusted_roots;  // DER; e.g. AwsNitroRootG1Der(), or local-aws's NSM root
  std::map<uint32_t, Bytes> expect_pcrs;
  std::optional<Bytes> expect_nonce;     // besides the request's own attest nonce
  absl::Time at = absl::InfinitePast();  // InfinitePast: now
  SignatureCheck check_signature;
};

struct AttestedReplyCheck {
  std::string name;  // message, document, pcr<N>, nonce, binding, signature
  bool ok = false;
  std::string detail;  // why not (empty if ok)
};

struct AttestedReplyResult {
  std::vector<AttestedReplyCheck> checks;
  std::optional<AttestationDocument> document;  // when it parsed
  std::string failure;  // "<check>: <detail>" of the first failed check; empty if all passed
  bool ok() const { return failure.empty(); }
  nlohmann::ordered_json ToJson() const;
};

// Every check above. Never an error status: failures are in the result.
AttestedReplyResult VerifyAttestedReply(const AttestedReply& reply, ByteView message,
                                        const AttestedReplyOptions& options);

// "-----BEGIN PUBLIC KEY-----" PEM of a DER SubjectPublicKeyInfo.
std::string SpkiDerToPem(ByteView spki_der);

}  // namespace lockout::attest
