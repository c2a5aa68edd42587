#pragma once

// ECDSA signature encodings: the DER ECDSA-Sig-Value (RFC 3279 §2.2.3, SEC 1 §C.8) and the
// fixed-width r‖s that JOSE (RFC 7518 §3.4: ES256/ES384/ES512) and COSE use, and the low-s
// normalisation s > n/2 → n − s (BIP 62, what libsecp256k1 always produces).
//
// Everything works on caller-provided buffers and never allocates, so the signer's hot path can
// use it. Integers are big-endian byte strings of at most kMaxEcdsaScalarSize bytes.
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/common/bytes.h"

namespace lockout::signer {

// The widest scalar: P-521's 66 bytes.
inline constexpr size_t kMaxEcdsaScalarSize = 66;
// The longest DER ECDSA-Sig-Value of two such scalars: 3 (SEQUENCE) + 2 × (2 + 1 + 66).
inline constexpr size_t kMaxEcdsaDerSize = 141;

// Encodes the fixed-width r‖s `raw` (even length, each half 1..kMaxEcdsaScalarSize bytes) as a
// DER ECDSA-Sig-Value into `out`; returns its length.
// Errors: InvalidArgument for an odd or out-of-range length, r or s zero, or `out` too small.
absl::StatusOr<size_t> EcdsaRawToDer(ByteView raw, absl::Span<uint8_t> out);

// Decodes a DER ECDSA-Sig-Value (strict DER: minimal lengths, minimal positive INTEGERs, nothing
// after the SEQUENCE) into r‖s of `width` bytes each (out.size() ≥ 2 × width); returns 2 × width.
// Errors: InvalidArgument naming what is wrong (never the bytes), including r or s zero or wider
// than `width` bytes.
absl::StatusOr<size_t> EcdsaDerToRaw(ByteView der, size_t width, absl::Span<uint8_t> out);

// If the big-endian `s` (the width of `order`) is greater than order/2, replaces it with
// order − s. `half_order` is floor(order / 2), same width. Returns true if s was changed.
// Runs in time independent of s's value.
bool NormalizeLowS(absl::Span<uint8_t> s, ByteView order, ByteView half_order);

// True if big-endian `s` ≤ `half_order` (same width).
bool IsLowS(ByteView s, ByteView half_order);

}  // namespace lockout::signer
