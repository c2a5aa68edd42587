#pragma once

// Keccak-256 as Ethereum uses it (addresses, transaction hashes, EIP-191/EIP-712 digests).
//
// Keccak-256 is the original Keccak submission (rate 1088 bits, capacity 512, padding byte 0x01),
// NOT FIPS 202 SHA3-256 (padding byte 0x06): the two give different digests for every input
// (keccak256("") = c5d24601..., sha3_256("") = a7ffc6f8...). OpenSSL 3.0 exposes only SHA3, so this
// is a small Keccak-f[1600] (FIPS 202 §3) with the Keccak padding.
// Thread-safety: pure functions.

#include <array>
#include <cstdint>

#include "src/common/bytes.h"

namespace lockout::crypto {

using Keccak256Digest = std::array<uint8_t, 32>;

// Keccak-256 of `data` (any length).
Keccak256Digest Keccak256(ByteView data);

namespace internal {
// The 256-bit sponge with a chosen domain/padding byte: 0x01 is Keccak-256, 0x06 is SHA3-256
// (tests compare the latter with OpenSSL to check the permutation and multi-block absorption).
Keccak256Digest Sponge256(ByteView data, uint8_t domain_byte);
}  // namespace internal

}  // namespace lockout::crypto
