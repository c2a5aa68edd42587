#pragma once

// Recipient attestation documents as the local KMS judges them (issue 3 item 4).
//
// A document is TRUSTED when all of these hold at the request time `now` (the service clock):
//   1. it parses and VerifyAttestationDocument (attest/verifier.h) accepts it against the
//      configured trusted roots at `now`: the certificate chain to a trusted root, every
//      certificate's validity window containing `now`, and the COSE ES384 signature;
//   2. FRESHNESS RULE: its `timestamp` (milliseconds since the epoch, set by the NSM when it
//      signed) is within `max_age` of `now` in either direction: |now - timestamp| <= max_age
//      (default 5 minutes, KmsOptions::attestation_max_age). AWS does not document a window;
//      Nitro leaf certificates live about three hours, which alone would let a captured
//      document be replayed for hours, so we bound the document's own signing time. The
//      tolerance into the future covers clock skew between the NSM host and KMS.
// Only a trusted document contributes condition keys (kms:RecipientAttestation:ImageSha384 =
// lower-case hex of PCR0, kms:RecipientAttestation:PCR<N> for each PCR present) and its
// public_key. An untrusted document contributes nothing; the reason goes to the local log only.
//
// Thread-safe (pure functions).

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/attest/verifier.h"
#include "src/common/bytes.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {

struct RecipientAttestation {
  // Set when the document is trusted (verified and fresh).
  std::optional<attest::VerifiedAttestation> verified;
  // Why it is not trusted, for the local log: a stable reason name ("cert_expired", "stale",
  // "malformed", ...) and a message with sizes/fields only. Empty when trusted.
  std::string failure;
  std::string failure_detail;
};

// Verifies `document` against `trusted_roots` at `now` and applies the freshness rule above.
RecipientAttestation CheckRecipientAttestation(ByteView document,
                                               absl::Span<const Bytes> trusted_roots,
                                               absl::Time now, absl::Duration max_age);

// Adds kms:RecipientAttestation:ImageSha384 and kms:RecipientAttestation:PCR<N> for a trusted
// document's PCRs (lower-case hex).
void AddAttestationConditionKeys(const attest::AttestationDocument& document,
                                 policy::ConditionKeys& keys);

}  // namespace lockout::localaws
