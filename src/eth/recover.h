#pragma once

// The address that signed a 32-byte digest (Ethereum's ecrecover), with libsecp256k1's recovery
// module. Signing itself is not here: lockout_signer produces (r, s, recovery id) over a digest
// that this component computes.
// Thread-safety: pure functions (libsecp256k1's static context is read-only).

#include <cstdint>

#include "absl/status/statusor.h"
#include "src/crypto/keccak.h"
#include "src/eth/address.h"
#include "src/eth/uint256.h"

namespace lockout::eth {

// An ECDSA secp256k1 signature with the recovery id (the parity of R's y coordinate; Ethereum
// uses only 0 and 1: R's x coordinate is r itself).
struct RecoverableSignature {
  Uint256 r{};
  Uint256 s{};
  uint8_t recovery_id = 0;
  bool operator==(const RecoverableSignature&) const = default;
};

// Checks that r and s are in [1, n-1] and the recovery id is 0 or 1; with `require_low_s`, also
// that s <= n/2 (EIP-2: the only form a transaction may carry). InvalidArgument otherwise.
absl::Status CheckSignature(const RecoverableSignature& signature, bool require_low_s);

// The address whose key made `signature` over `digest`. InvalidArgument if the signature is
// malformed (CheckSignature without the low-s rule) or recovers no key.
absl::StatusOr<Address> RecoverAddress(const crypto::Keccak256Digest& digest,
                                       const RecoverableSignature& signature);

}  // namespace lockout::eth
