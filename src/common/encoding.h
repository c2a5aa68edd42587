#pragma once

// Strict hex and base64 codecs for untrusted input.
//
// Decoders never guess: any character outside the alphabet, an odd hex length, missing or
// misplaced base64 padding, or non-zero trailing bits are errors (InvalidArgument). Error text
// carries offsets and lengths, never the input itself. Thread-safe (pure functions).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout {

// Lower-case hex.
std::string HexEncode(ByteView data);
// Accepts upper or lower case digits; no prefix, no separators. An optional "0x" prefix is
// accepted only by HexDecodeAllowPrefix.
absl::StatusOr<Bytes> HexDecode(std::string_view hex);
absl::StatusOr<Bytes> HexDecodeAllowPrefix(std::string_view hex);

// Standard alphabet (RFC 4648 §4) with padding.
std::string Base64Encode(ByteView data);
// Standard alphabet, padding required, no whitespace, canonical trailing bits.
absl::StatusOr<Bytes> Base64Decode(std::string_view b64);
// The same, into `out` (replacing its contents, keeping its capacity: no allocation once it is
// large enough). On error `out` holds a partial decode.
absl::Status Base64DecodeTo(std::string_view b64, Bytes& out);

}  // namespace lockout
