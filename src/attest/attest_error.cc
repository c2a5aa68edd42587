#include "src/attest/attest_error.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::attest {
namespace {

constexpr char kPayloadUrl[] = "type.lockout/attest.failure";

constexpr AttestFailure kAll[] = {
    AttestFailure::kMalformed,        AttestFailure::kBadField,
    AttestFailure::kCertMalformed,    AttestFailure::kCertNotYetValid,
    AttestFailure::kCertExpired,      AttestFailure::kUntrustedRoot,
    AttestFailure::kBadCertSignature, AttestFailure::kChainInvalid,
    AttestFailure::kSignatureInvalid, AttestFailure::kInternal,
};

}  // namespace

std::string_view FailureName(AttestFailure failure) {
  switch (failure) {
    case AttestFailure::kMalformed:
      return "malformed";
    case AttestFailure::kBadField:
      return "bad_field";
    case AttestFailure::kCertMalformed:
      return "cert_malformed";
    case AttestFailure::kCertNotYetValid:
      return "cert_not_yet_valid";
    case AttestFailure::kCertExpired:
      return "cert_expired";
    case AttestFailure::kUntrustedRoot:
      return "untrusted_root";
    case AttestFailure::kBadCertSignature:
      return "bad_cert_signature";
    case AttestFailure::kChainInvalid:
      return "chain_invalid";
    case AttestFailure::kSignatureInvalid:
      return "signature_invalid";
    case AttestFailure::kInternal:
      return "internal";
  }
  return "internal";
}

absl::Status AttestError(AttestFailure failure, std::string_view message) {
  absl::StatusCode code = absl::StatusCode::kPermissionDenied;
  switch (failure) {
    case AttestFailure::kMalformed:
    case AttestFailure::kBadField:
    case AttestFailure::kCertMalformed:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case AttestFailure::kInternal:
      code = absl::StatusCode::kInternal;
      break;
    default:
      break;
  }
  std::string name(FailureName(failure));
  absl::Status status(code, absl::StrCat("attestation ", name, ": ", Absl(message)));
  status.SetPayload(kPayloadUrl, absl::Cord(name));
  return status;
}

std::optional<AttestFailure> FailureOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);  // not std::optional here
  if (!payload.has_value()) return std::nullopt;
  std::string name(*payload);
  for (AttestFailure f : kAll) {
    if (FailureName(f) == name) return f;
  }
  return std::nullopt;
}

}  // namespace lockout::attest
