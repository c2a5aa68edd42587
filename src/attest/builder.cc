#include "src/attest/builder.h"

#include "absl/strings/str_cat.h"
#include "src/attest/attest_error.h"
#include "src/attest/certificate.h"
#include "src/attest/es384.h"
#include "src/common/status_macros.h"

namespace lockout::attest {

absl::StatusOr<Bytes> BuildAttestationDocument(const AttestationDocument& fields,
                                               EVP_PKEY* signing_key) {
  RETURN_IF_ERROR(ValidateAttestationFields(fields));
  if (!IsP384Key(signing_key)) {
    return absl::InvalidArgumentError("attestation signing key is not EC P-384");
  }
  absl::StatusOr<crypto::X509Ptr> leaf = ParseCertificateDer(fields.certificate);
  if (!leaf.ok()) {
    return AttestError(AttestFailure::kCertMalformed,
                       absl::StrCat("certificate: ", leaf.status().message()));
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), signing_key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("signing key does not match the certificate's key");
  }
  CoseSign1 cose;
  cose.protected_header = Es384ProtectedHeader();
  cose.payload = EncodeAttestationPayload(fields);
  if (cose.payload.size() > kMaxPayloadSize) {
    return AttestError(AttestFailure::kBadField, absl::StrCat("payload has ", cose.payload.size(),
                                                              " bytes, at most ", kMaxPayloadSize));
  }
  ASSIGN_OR_RETURN(cose.signature,
                   Es384Sign(signing_key, EncodeSigStructure(cose.protected_header, cose.payload)));
  return EncodeCoseSign1(cose);
}

}  // namespace lockout::attest
