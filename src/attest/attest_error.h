#pragma once

// Why an attestation document was rejected.
//
// Every failure from Parse/Verify/Build in lockout::attest is an absl::Status that carries one
// AttestFailure as a payload, so callers (KMS policy evaluation, the CLI) can branch on the reason
// without parsing messages. Messages carry field names, sizes, indices and offsets, never the
// bytes of the document. Thread-safe (pure functions).

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace lockout::attest {

enum class AttestFailure {
  kMalformed,         // not a COSE_Sign1 as the NSM produces it (CBOR, header, sizes)
  kBadField,          // payload violates the NSM field rules (attestation_process.md §3.2.2)
  kCertMalformed,     // a certificate in the document is not a parseable X.509 DER
  kCertNotYetValid,   // the verification time is before a certificate's notBefore
  kCertExpired,       // the verification time is after a certificate's notAfter
  kUntrustedRoot,     // the chain does not end at (or cabundle[0] is not) a trusted root
  kBadCertSignature,  // a certificate is not signed by its issuer
  kChainInvalid,      // any other chain failure (constraints, key usage, key type, order)
  kSignatureInvalid,  // the COSE ES384 signature does not verify with the leaf key
  kInternal,          // OpenSSL or allocation failure; not the document's fault
};

// Stable snake_case name ("cert_expired"), used in CLI JSON output and logs.
std::string_view FailureName(AttestFailure failure);

// A status with the given failure attached. Code: InvalidArgument for kMalformed/kBadField/
// kCertMalformed, Internal for kInternal, PermissionDenied for the rest.
absl::Status AttestError(AttestFailure failure, std::string_view message);

// The failure attached by AttestError, or nullopt (OK status, or a status from elsewhere).
std::optional<AttestFailure> FailureOf(const absl::Status& status);

}  // namespace lockout::attest
