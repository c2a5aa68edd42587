#pragma once

// `lockout attest --enclave URI`: authenticate a running enclave.
//
// Sends a fresh random nonce with the v2 `attest` op, then checks, at the current time:
//   1. the document verifies (COSE ES384 + chain) to a trusted root: the AWS Nitro root G1 and
//      any extra roots given (e.g. the local NSM root of `lockout local-aws`);
//   2. its nonce is exactly the one sent (freshness: no replayed document);
//   3. every expected PCR holds (--expect-pcr N=HEX);
//   4. it binds the signing key: public_key equals the enclave's SPKI (v2 `public_key` op) and
//      user_data equals SHA-256 of it (docs/PROTOCOL.md §2).
// Only all four make `ok()` true. Thread-safety: uses the client from the calling thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/common/bytes.h"
#include "src/operator/enclave_client.h"

namespace lockout::ops {

struct PcrExpectation {
  uint32_t index = 0;
  Bytes value;
};

// "N=HEX" with N in 0..31 and HEX a 48-byte value ("0x" allowed). InvalidArgument otherwise.
absl::StatusOr<PcrExpectation> ParsePcrExpectation(std::string_view text);

struct AttestClientOptions {
  // Extra trusted roots (DER) besides the AWS Nitro root G1.
  std::vector<Bytes> extra_roots;
  std::vector<PcrExpectation> expect;
  size_t nonce_size = 32;
  absl::Time at = absl::InfinitePast();  // InfinitePast: now
};

struct PcrCheck {
  PcrExpectation expected;
  std::optional<Bytes> actual;
  bool ok = false;
};

struct AttestClientResult {
  Bytes nonce;
  Bytes document;
  std::optional<attest::AttestationDocument> parsed;  // when it parsed
  absl::Status verification = absl::UnknownError("not attempted");
  bool nonce_matches = false;
  bool key_bound = false;
  std::optional<EnclavePublicKey> public_key;
  std::vector<PcrCheck> pcr_checks;
  Bytes root_der;  // the root the chain ended at
  // The first failed check in plain words, empty if ok().
  std::string failure;
  bool ok() const { return failure.empty(); }
  nlohmann::ordered_json ToJson() const;
};

// Errors (as a status) only for transport failures; every check failure is in the result.
absl::StatusOr<AttestClientResult> AttestEnclave(EnclaveV2Client& client,
                                                 const AttestClientOptions& options);

}  // namespace lockout::ops
