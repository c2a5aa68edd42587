#pragma once

// Makes attestation documents the way the Nitro Secure Module does: untagged COSE_Sign1
// [a1013822, {}, payload, r || s] with the payload map in the NSM's key order (module_id,
// digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce; null for absent
// optionals), signed ES384 over the COSE Sig_structure. Used by the local NSM service and tests;
// documents it makes verify with VerifyAttestation against the CA that issued `certificate`.
// Thread-safe (the key is only read).

#include <openssl/evp.h>

#include "absl/status/statusor.h"
#include "src/attest/attestation_document.h"
#include "src/common/bytes.h"

namespace lockout::attest {

// Encodes and signs `fields` (its `cose` member is ignored) with `signing_key`, the P-384
// private key of `fields.certificate`. Does not check the chain or validity windows.
// Errors: kBadField (ValidateAttestationFields, or payload over kMaxPayloadSize);
// InvalidArgument if the key is not P-384 or is not the certificate's key; kCertMalformed if
// the certificate does not parse; Internal on OpenSSL failure.
absl::StatusOr<Bytes> BuildAttestationDocument(const AttestationDocument& fields,
                                               EVP_PKEY* signing_key);

}  // namespace lockout::attest
