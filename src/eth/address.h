#pragma once

// Ethereum addresses: the address of a secp256k1 public key and its EIP-55 checksummed form.
// Thread-safety: pure functions.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::eth {

using Address = std::array<uint8_t, 20>;

// The 20-byte address of a secp256k1 public key: the last 20 bytes of Keccak-256 of the 64-byte
// X‖Y (the uncompressed point without its 0x04 prefix). `uncompressed_point` must be 65 bytes
// starting with 0x04; InvalidArgument (with the size/prefix) otherwise. The point is not checked
// to be on the curve: callers pass keys OpenSSL or libsecp256k1 produced.
absl::StatusOr<Address> EthereumAddress(ByteView uncompressed_point);

// "0x" + the address with the EIP-55 mixed-case checksum (hex letters upper-cased where the
// corresponding nibble of keccak256(lower-case hex address) is >= 8).
std::string ChecksumAddress(const Address& address);

// Parses "0x" + 40 hex digits. All-lower-case and all-upper-case digits are accepted as they are;
// mixed case must be the exact EIP-55 checksum (a mistyped address is refused, not used).
// InvalidArgument naming `field` (never the text).
absl::StatusOr<Address> ParseAddress(std::string_view text, std::string_view field);

}  // namespace lockout::eth
