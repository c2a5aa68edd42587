#pragma once

// Verification of AWS Nitro attestation documents (attestation_process.md §3.2.3, RFC 8152).
//
// A document is trusted when, at the caller's time `at`:
//  1. the chain leaf ("certificate") -> cabundle[N-1] -> ... -> cabundle[1] -> a trusted root
//     verifies with OpenSSL (signatures, validity windows checked at `at`, CA basic constraints,
//     key usage; no CRLs, no network), the chain OpenSSL built is exactly that path, and
//     cabundle[0] is byte-identical to that trusted root;
//  2. the leaf key is EC P-384 and the COSE_Sign1 signature (ES384, raw r || s) verifies over
//     Sig_structure ["Signature1", protected, h'', payload];
//  3. the fields of the document are exactly those decoded from the signed payload bytes.
// Failures carry an AttestFailure (attest_error.h) saying which step failed and why.
// Thread-safe (no shared state; OpenSSL objects are per call).

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/attest/attestation_document.h"
#include "src/common/bytes.h"

namespace lockout::attest {

// A document that passed Verify: its fields may be used for policy decisions (PCRs,
// public_key, user_data, nonce).
struct VerifiedAttestation {
  AttestationDocument document;
  Bytes root_der;  // the trusted root the chain ends at (one of `trusted_roots`)
};

// Verifies a parsed document (from ParseAttestationDocument: its `cose` parts are required)
// against `trusted_roots` (DER certificates; see CertificatesFromPem for PEM) at time `at`.
// Errors: InvalidArgument (no AttestFailure) when `trusted_roots` is empty or holds a
// non-certificate; otherwise an AttestError: kMalformed (no COSE parts, or fields that differ
// from the signed payload), kCertMalformed, kCertNotYetValid, kCertExpired, kUntrustedRoot,
// kBadCertSignature, kChainInvalid, kSignatureInvalid, kInternal.
absl::StatusOr<VerifiedAttestation> VerifyAttestation(const AttestationDocument& doc,
                                                      absl::Span<const Bytes> trusted_roots,
                                                      absl::Time at);

// ParseAttestationDocument + VerifyAttestation.
absl::StatusOr<VerifiedAttestation> VerifyAttestationDocument(ByteView data,
                                                              absl::Span<const Bytes> trusted_roots,
                                                              absl::Time at);

}  // namespace lockout::attest
