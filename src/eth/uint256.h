#pragma once

// 256-bit unsigned integers as Ethereum encodes them: fixed 32-byte big-endian values, their
// minimal big-endian form (RLP integers: no leading zero bytes, zero is empty) and the JSON
// quantities wallets send (eth_signTransaction fields, EIP-712 integer values).
// Thread-safety: pure functions.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"

namespace lockout::eth {

// Big-endian; std::array's ordering is the numeric ordering.
using Uint256 = std::array<uint8_t, 32>;

bool IsZero(const Uint256& value);
Uint256 Uint256FromUint64(uint64_t value);
// The value without leading zero bytes (zero gives the empty string), as RLP encodes integers.
Bytes MinimalBigEndian(const Uint256& value);
// Left-pads `big_endian` (at most 32 bytes) to 32; InvalidArgument naming `field` if longer.
absl::StatusOr<Uint256> Uint256FromBigEndian(ByteView big_endian, std::string_view field);
// The number of significant bits (0 for zero).
int BitLength(const Uint256& value);
// value * 2 + addend; nullopt if the result does not fit in 256 bits.
std::optional<Uint256> TimesTwoPlus(const Uint256& value, uint32_t addend);
// value - subtrahend; nullopt if it would be negative.
std::optional<Uint256> Minus(const Uint256& value, uint32_t subtrahend);
// value / 2 (rounding down).
Uint256 Half(const Uint256& value);
// 2^256 - value (two's complement negation modulo 2^256).
Uint256 Negate(const Uint256& value);

// A JSON quantity, as Ethereum JSON-RPC and wallets write them:
//  - a JSON integer >= 0 (a JSON number with a fraction or exponent is refused: nlohmann reads
//    it as a double and large integers would silently lose precision);
//  - a string "0x" + hex digits (either case): a JSON-RPC QUANTITY, so at least one digit and
//    no leading zero ("0x0" is zero; "0x", "0x00", "0x01" are refused, as go-ethereum's hexutil
//    refuses them);
//  - a string of decimal digits without sign or leading zero ("0" is zero).
// Values above 2^256-1 are refused. Errors are InvalidArgument naming `field` (never the value).
absl::StatusOr<Uint256> ParseQuantity(const nlohmann::json& value, std::string_view field);

// As ParseQuantity, and also a leading '-' on decimal or hex strings and negative JSON integers
// (EIP-712 intN values). "-0" is refused. The magnitude is at most 2^256-1; callers check ranges.
struct SignedQuantity {
  bool negative = false;
  Uint256 magnitude{};
};
absl::StatusOr<SignedQuantity> ParseSignedQuantity(const nlohmann::json& value,
                                                   std::string_view field);

}  // namespace lockout::eth
