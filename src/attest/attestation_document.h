#pragma once

// AWS Nitro attestation documents: the COSE_Sign1 envelope and its CBOR payload.
//
// Format (aws-nitro-enclaves-nsm-api docs/attestation_process.md, RFC 8152 §4.2):
//   COSE_Sign1 = [protected: bstr(a1 01 38 22 = {1: -35, ES384}), unprotected: {},
//                 payload: bstr(AttestationDocument map), signature: bstr(96 = r || s)]
// untagged as the NSM emits it (tag 18 is accepted on input). The payload map's keys, in the
// order the NSM writes them: module_id, digest, timestamp, pcrs, certificate, cabundle,
// public_key, user_data, nonce (the last three may be null).
//
// This file only parses and checks syntax; trust comes from Verify() (verifier.h).
// Thread-safety: value types and pure functions; thread-compatible.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::attest {

// Limits from the NSM spec (§2.2, §3.1, §3.2.2.2) and from our own bound on the envelope.
inline constexpr size_t kMaxPayloadSize = 16384;  // COSE payload bstr .size (1..16384)
inline constexpr size_t kMaxDocumentSize = kMaxPayloadSize + 256;  // + headers and signature
inline constexpr size_t kSignatureSize = 96;                       // ES384 raw r || s
inline constexpr size_t kMaxPcrCount = 32;
inline constexpr uint64_t kPcrIndexLimit = 32;  // indices 0..31
inline constexpr size_t kMaxCertSize = 1024;
inline constexpr size_t kMaxCabundleSize = 32;  // ours: real bundles hold 4-5 certificates
inline constexpr size_t kMaxPublicKeySize = 1024;
inline constexpr size_t kMaxUserDataSize = 512;
inline constexpr size_t kMaxNonceSize = 512;
inline constexpr size_t kMaxModuleIdSize = 256;  // ours: real ids are ~40 characters

// The bytes of the COSE_Sign1 structure as they appeared on the wire (needed to rebuild the
// Sig_structure exactly).
struct CoseSign1 {
  Bytes protected_header;  // serialized protected header map (the bstr's content)
  Bytes payload;           // serialized AttestationDocument map (the bstr's content)
  Bytes signature;         // raw r || s

  bool operator==(const CoseSign1&) const = default;
};

// One attestation document. Produced by ParseAttestationDocument (fields validated) or filled in
// by a caller that wants to encode or build one (then nothing is validated until
// ValidateAttestationFields or BuildAttestationDocument runs).
struct AttestationDocument {
  std::string module_id;
  std::string digest;  // "SHA384" in every valid document
  uint64_t timestamp_ms = 0;
  std::map<uint32_t, Bytes> pcrs;  // index -> value (48 bytes for SHA384)
  Bytes certificate;               // leaf, DER
  std::vector<Bytes> cabundle;     // DER, root first: [ROOT, INTERM_1, ..., INTERM_N]
  std::optional<Bytes> public_key;
  std::optional<Bytes> user_data;
  std::optional<Bytes> nonce;

  CoseSign1 cose;  // set by ParseAttestationDocument; ignored by the encoders

  bool operator==(const AttestationDocument&) const = default;
};

// Parses an attestation document (untagged or tag-18 COSE_Sign1) and validates every field.
// Rejects: inputs over kMaxDocumentSize (before parsing), trailing bytes, indefinite lengths,
// a protected header other than {1: -35}, a non-map unprotected header, a signature that is not
// 96 bytes, a payload over kMaxPayloadSize, unknown/duplicate/missing payload keys and any field
// outside the rules of ValidateAttestationFields.
// Errors: AttestFailure kMalformed (envelope) or kBadField (payload fields), see attest_error.h.
absl::StatusOr<AttestationDocument> ParseAttestationDocument(ByteView data);

// Parses and validates just the payload map (the COSE payload bstr's content). The result's
// `cose` is empty. Error: kBadField.
absl::StatusOr<AttestationDocument> ParseAttestationPayload(ByteView payload);

// The NSM spec's field rules (§3.2.2.2) plus ours:
//   module_id 1..kMaxModuleIdSize bytes; digest == "SHA384"; timestamp_ms > 0;
//   pcrs 1..32 entries, index < 32, each value exactly 48 bytes (the SHA384 size);
//   certificate 1..1024 bytes; cabundle 1..kMaxCabundleSize entries of 1..1024 bytes;
//   public_key 1..1024 bytes if present; user_data and nonce 0..512 bytes if present.
// Error: kBadField naming the field (and index), never its content.
absl::Status ValidateAttestationFields(const AttestationDocument& doc);

// Encodes the payload map exactly as the NSM (serde_cbor) does: a 9-entry map in the order
// above, shortest-form integers, pcrs in ascending index order, null for absent optionals.
// Does not validate (the NSM's own test vector uses digest "SHA256" and 3-byte PCRs).
Bytes EncodeAttestationPayload(const AttestationDocument& doc);

// Encodes an untagged COSE_Sign1 [bstr protected, {}, bstr payload, bstr signature].
Bytes EncodeCoseSign1(const CoseSign1& cose);

// The COSE Sig_structure that ES384 signs (RFC 8152 §4.4):
//   ["Signature1", bstr protected, bstr h'', bstr payload]
Bytes EncodeSigStructure(ByteView protected_header, ByteView payload);

// The protected header every Nitro document carries: {1: -35} = a1 01 38 22.
Bytes Es384ProtectedHeader();

}  // namespace lockout::attest
