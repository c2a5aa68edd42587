#pragma once

// `lockout create-key --in-enclave`: ask a running enclave to generate its own key (the v2 op
// generate_key, docs/PROTOCOL.md §2 "Keys born in the enclave") and check what it answers.
//
// The enclave generates the key, KMS-encrypts it under `kms_key_arn` with the context
// {"lockout:secret": secret_name}, stores the ciphertext through its relay (write-once) and
// replies with the public key and an NSM attestation document. This side accepts the reply only
// if:
//   1. the document verifies (COSE ES384 + certificate chain) to one of `trusted_roots` now;
//   2. it binds the returned key exactly as the `attest` op's: public_key = the SPKI (DER) and
//      user_data = SHA-256(SPKI);
//   3. public_key_raw is the key inside that SPKI, and key_type, secret_name and kms_key are the
//      ones asked for.
// The secp256k1 address is derived here from the attested key (src/eth/address.h), not taken
// from the enclave.
// With `hd` the enclave makes an HD seed instead (docs/WALLET.md "HD keys"); the returned key is
// the master m's, and check 2 becomes user_data = attest::GenerateHdBinding(SPKI, xpub or ""):
// for secp256k1 the xpub must be present, of depth 0 and hold the same key (children are then
// derived from an attested chain code); for p256 and ed25519 there is no xpub. Thread-safety: uses
// the client from the calling thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/operator/enclave_client.h"
#include "src/signer/signer.h"

namespace lockout::ops {

struct EnclaveKeyGenerationOptions {
  std::string kms_key_arn;  // a key ARN: the enclave compares KMS's KeyId with it
  std::string secret_name;  // the enclave's --secret
  signer::KeyType key_type = signer::KeyType::kP521;
  bool hd = false;                       // an HD seed (secp256k1, p256 or ed25519) instead of a key
  std::vector<Bytes> trusted_roots;      // DER; at least one
  absl::Time at = absl::InfinitePast();  // InfinitePast: now
};

struct EnclaveKeyGenerationResult {
  signer::KeyType key_type = signer::KeyType::kP521;
  std::string public_key_pem;
  Bytes spki_der;
  Bytes public_key_raw;
  std::optional<std::string> ethereum_address;  // secp256k1: EIP-55
  // The signing policy's "key" pin (as create-key prints it): eth_address for secp256k1,
  // otherwise public_key_sha256. For an HD seed, m's.
  std::string policy_pin;
  bool hd = false;
  std::optional<std::string> xpub;  // HD secp256k1: m's
  std::string secret_name;
  std::string version_id;
  std::string kms_key_arn;
  Bytes document;
  std::string module_id;
  std::map<uint32_t, Bytes> pcrs;  // 0, 1, 2, 8 and 16 when the document has them
  nlohmann::ordered_json ToJson() const;
};

// Errors: the enclave's refusal as the client reports it ("key loaded", "secret exists", ...),
// transport errors, and FailedPrecondition naming the check that failed (1-3 above).
absl::StatusOr<EnclaveKeyGenerationResult> GenerateKeyInEnclave(
    EnclaveV2Client& client, const EnclaveKeyGenerationOptions& options);

}  // namespace lockout::ops
