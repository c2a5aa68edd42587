#pragma once

// Keccak-256 as Ethereum uses it, and the Ethereum-style address of a secp256k1 public key.
//
// Keccak-256 is the original Keccak submission (rate 1088 bits, capacity 512, padding byte 0x01),
// NOT FIPS 202 SHA3-256 (padding byte 0x06): the two give different digests for every input
// (keccak256("") = c5d24601..., sha3_256("") = a7ffc6f8...). OpenSSL 3.0 exposes only SHA3, so this
// is a small Keccak-f[1600] (FIPS 202 §3) with the Keccak padding.
// Thread-safety: pure functions.

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::ops {

using Keccak256Digest = std::array<uint8_t, 32>;

// Keccak-256 of `data` (any length).
Keccak256Digest Keccak256(ByteView data);

// The 20-byte address of a secp256k1 public key: the last 20 bytes of Keccak-256 of the 64-byte
// X‖Y (the uncompressed point without its 0x04 prefix). `uncompressed_point` must be 65 bytes
// starting with 0x04; InvalidArgument (with the size/prefix) otherwise. The point is not checked
// to be on the curve: callers pass keys OpenSSL or libsecp256k1 produced.
absl::StatusOr<std::array<uint8_t, 20>> EthereumAddress(ByteView uncompressed_point);

// "0x" + the address with the EIP-55 mixed-case checksum (hex letters upper-cased where the
// corresponding nibble of keccak256(lower-case hex address) is >= 8).
std::string ChecksumAddress(const std::array<uint8_t, 20>& address);

namespace internal {
// The 256-bit sponge with a chosen domain/padding byte: 0x01 is Keccak-256, 0x06 is SHA3-256
// (tests compare the latter with OpenSSL to check the permutation and multi-block absorption).
Keccak256Digest Sponge256(ByteView data, uint8_t domain_byte);
}  // namespace internal

}  // namespace lockout::ops
