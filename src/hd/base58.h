#pragma once

// Base58 and Base58Check (the Bitcoin alphabet), as BIP-32 serializes extended keys.
//
// One implementation serves public and secret payloads: every working buffer is wiped before it
// is freed, and the *Secret variants keep the payload (or the text) in SecretBytes, so an xprv
// never passes through an unwiped std::string.
//
// Limits: at most kMaxBase58PayloadSize payload bytes (encode) and kMaxBase58TextSize characters
// (decode); the conversion is quadratic, and extended keys need 82 bytes / 111 characters.
// Errors (InvalidArgument) name positions and sizes only, never characters of the input.
// Thread-safe (no shared state).

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"

namespace lockout::hd {

inline constexpr size_t kMaxBase58PayloadSize = 128;
inline constexpr size_t kMaxBase58TextSize = 200;

// Base58Check: payload ‖ first 4 bytes of SHA-256(SHA-256(payload)), Base58-encoded.
absl::StatusOr<std::string> Base58CheckEncode(ByteView payload);
absl::StatusOr<SecretBytes> Base58CheckEncodeSecret(const SecretBytes& payload);

// Decodes Base58Check text and verifies the checksum. Errors: empty or oversized text, a
// character outside the alphabet (its position is named), fewer than 4 bytes, checksum mismatch.
absl::StatusOr<Bytes> Base58CheckDecode(std::string_view text);
absl::StatusOr<SecretBytes> Base58CheckDecodeSecret(std::string_view text);

}  // namespace lockout::hd
