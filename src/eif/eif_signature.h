#pragma once

// The EIF signature section and PCR8 (aws-nitro-enclaves-image-format, src/defs/mod.rs and
// src/utils/mod.rs).
//
// The section is serde_cbor's encoding of Vec<PcrSignature>: a CBOR array of maps
//   {"signing_certificate": [u8, ...], "signature": [u8, ...]}
// where both fields are Rust Vec<u8>, which serde_cbor writes as ARRAYS of small unsigned
// integers (not byte strings). signing_certificate is the PEM certificate; signature is an
// untagged COSE_Sign1 whose payload is serde_cbor of PcrInfo {"register_index": 0,
// "register_value": [PCR0 bytes...]}, signed with the certificate's key (ES256/ES384/ES512 by
// curve). Only the first entry is used (nitro-cli signs PCR0 only).
//
// PCR8 = SHA384(0^48 ‖ SHA384(DER of the signing certificate)).
// Thread-safe (pure functions over OpenSSL).

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/hash.h"

namespace lockout::eif {

inline constexpr size_t kMaxSignatureSectionSize = 1 << 20;

struct PcrSignature {
  Bytes signing_certificate;  // PEM, as stored in the EIF
  Bytes signature;            // COSE_Sign1 bytes
};

// Parses a signature section. Errors (InvalidArgument): not CBOR, not a non-empty array of
// maps with exactly those two keys, a field that is not an array of integers 0..255, or a
// section larger than kMaxSignatureSectionSize.
absl::StatusOr<std::vector<PcrSignature>> ParseSignatureSection(ByteView section);
// The inverse: serde_cbor's encoding of the entries.
absl::StatusOr<Bytes> EncodeSignatureSection(const std::vector<PcrSignature>& entries);

// DER of the (single) PEM certificate in `pem`: what PCR8 measures. InvalidArgument if `pem`
// holds no parsable certificate.
absl::StatusOr<Bytes> CertificatePemToDer(ByteView pem);
// PCR8 of a PEM signing certificate.
absl::StatusOr<crypto::Sha384Digest> Pcr8FromCertificatePem(ByteView pem);

// serde_cbor of PcrInfo {register_index, register_value}: the signed payload.
Bytes EncodePcrInfo(int32_t register_index, ByteView register_value);

// Signs PCR0 as nitro-cli does: COSE_Sign1 over EncodePcrInfo(0, pcr0) with `private_key_pem`
// (an EC key on P-256, P-384 or P-521 matching the certificate). The key is read from secret
// storage and never copied elsewhere. Errors: unparsable key or certificate, non-EC key.
absl::StatusOr<PcrSignature> SignPcr0(const crypto::Sha384Digest& pcr0, ByteView cert_pem,
                                      const SecretBytes& private_key_pem);

// Checks one entry against a measured PCR0: the COSE_Sign1 signature verifies under the
// certificate's public key AND its payload equals EncodePcrInfo(0, pcr0). Returns false when
// either check fails; an error only when the COSE structure or certificate is malformed.
absl::StatusOr<bool> VerifyPcr0Signature(const PcrSignature& entry,
                                         const crypto::Sha384Digest& pcr0);

}  // namespace lockout::eif
