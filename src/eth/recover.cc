#include "src/eth/recover.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lockout::eth {
namespace {

// The order n of secp256k1 (SEC 2 §2.4.1) and n/2 rounded down.
constexpr Uint256 kOrder = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                            0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
constexpr Uint256 kHalfOrder = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

}  // namespace

absl::Status CheckSignature(const RecoverableSignature& signature, bool require_low_s) {
  if (signature.recovery_id > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("eth: recovery id ", signature.recovery_id, " is not 0 or 1"));
  }
  if (IsZero(signature.r) || signature.r >= kOrder) {
    return absl::InvalidArgumentError("eth: signature r is not in [1, n-1]");
  }
  if (IsZero(signature.s) || signature.s >= kOrder) {
    return absl::InvalidArgumentError("eth: signature s is not in [1, n-1]");
  }
  if (require_low_s && signature.s > kHalfOrder) {
    return absl::InvalidArgumentError("eth: signature s is above n/2 (EIP-2 requires low s)");
  }
  return absl::OkStatus();
}

absl::StatusOr<Address> RecoverAddress(const crypto::Keccak256Digest& digest,
                                       const RecoverableSignature& signature) {
  if (absl::Status s = CheckSignature(signature, /*require_low_s=*/false); !s.ok()) return s;
  uint8_t compact[64];
  std::memcpy(compact, signature.r.data(), 32);
  std::memcpy(compact + 32, signature.s.data(), 32);
  secp256k1_ecdsa_recoverable_signature parsed;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &parsed,
                                                          compact, signature.recovery_id) != 1) {
    return absl::InvalidArgumentError("eth: signature does not parse");
  }
  secp256k1_pubkey pubkey;
  if (secp256k1_ecdsa_recover(secp256k1_context_static, &pubkey, &parsed, digest.data()) != 1) {
    return absl::InvalidArgumentError("eth: signature recovers no public key");
  }
  uint8_t point[65];
  size_t point_size = sizeof(point);
  if (secp256k1_ec_pubkey_serialize(secp256k1_context_static, point, &point_size, &pubkey,
                                    SECP256K1_EC_UNCOMPRESSED) != 1 ||
      point_size != sizeof(point)) {
    return absl::InternalError("eth: secp256k1_ec_pubkey_serialize failed");
  }
  return EthereumAddress(ByteView(point, point_size));
}

}  // namespace lockout::eth
