#pragma once

// EIP-191 version 0x45 ("E"), the digest personal_sign and eth_sign sign:
//   keccak256("\x19Ethereum Signed Message:\n" ‖ decimal byte length of message ‖ message).
// Thread-safety: pure functions.

#include "src/common/bytes.h"
#include "src/crypto/keccak.h"

namespace lockout::eth {

// The digest of `message` (raw bytes: a caller that received "0x..." hex decodes it first, as
// wallets do for personal_sign; any length, including empty).
crypto::Keccak256Digest PersonalMessageHash(ByteView message);

}  // namespace lockout::eth
