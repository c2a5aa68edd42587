#pragma once

// Recursive Length Prefix (RLP), the serialization of Ethereum transactions (Ethereum Yellow
// Paper, Appendix B).
//
// The encoder writes the one canonical form. The decoder accepts only that form, so one value has
// one encoding and a signature over bytes means one thing:
//  - a single byte below 0x80 must be encoded as itself, never as the string 0x81 XX;
//  - lengths 0..55 use the short form; longer ones the long form, whose length-of-length bytes
//    have no leading zero;
//  - every length must fit in the input, and nothing may follow the top-level item;
//  - nesting is at most `max_depth` lists and the whole input holds at most `max_items` items.
// Errors are InvalidArgument with an offset (never the bytes). Thread-safety: pure functions.

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/common/bytes.h"
#include "src/eth/uint256.h"

namespace lockout::eth {

// One decoded item: a byte string, or a list of items.
struct RlpItem {
  bool is_list = false;
  Bytes bytes;                // when !is_list
  std::vector<RlpItem> list;  // when is_list

  static RlpItem String(ByteView data) {
    return RlpItem{false, Bytes(data.begin(), data.end()), {}};
  }
  static RlpItem List(std::vector<RlpItem> items) { return RlpItem{true, {}, std::move(items)}; }
  bool operator==(const RlpItem&) const = default;
};

// The encoding of a byte string.
Bytes RlpEncodeString(ByteView data);
// The encoding of a list whose items are already encoded (their concatenation is the payload).
Bytes RlpEncodeList(absl::Span<const Bytes> encoded_items);
// An unsigned integer: the byte string of its minimal big-endian form (zero is the empty string).
Bytes RlpEncodeUint(const Uint256& value);
Bytes RlpEncodeUint(uint64_t value);
// The encoding of an item tree.
Bytes RlpEncode(const RlpItem& item);

struct RlpLimits {
  size_t max_input_bytes = 1 << 20;
  int max_depth = 16;
  size_t max_items = 1 << 16;
};

// Decodes exactly one item spanning all of `encoded`, under the rules above.
absl::StatusOr<RlpItem> RlpDecode(ByteView encoded, const RlpLimits& limits = {});

// An RLP integer field: a byte string of at most 32 bytes without leading zero bytes (the
// canonical integer encoding; go-ethereum refuses the others too). InvalidArgument naming `field`.
absl::StatusOr<Uint256> RlpItemToUint(const RlpItem& item, std::string_view field);

}  // namespace lockout::eth
