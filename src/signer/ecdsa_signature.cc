#include "src/signer/ecdsa_signature.h"

#include "absl/strings/str_cat.h"

namespace lockout::signer {
namespace {

constexpr uint8_t kTagSequence = 0x30;
constexpr uint8_t kTagInteger = 0x02;

// The minimal positive DER INTEGER content of big-endian `v`: its bytes without leading zeros,
// with one 0x00 in front when the top bit is set. Returns the content length (0: v is zero).
size_t IntegerContentLength(ByteView v, size_t* skip) {
  size_t i = 0;
  while (i < v.size() && v[i] == 0) ++i;
  *skip = i;
  if (i == v.size()) return 0;
  return (v.size() - i) + ((v[i] & 0x80) != 0 ? 1 : 0);
}

uint8_t* WriteInteger(ByteView v, size_t skip, size_t content, uint8_t* p) {
  *p++ = kTagInteger;
  *p++ = static_cast<uint8_t>(content);
  if (content > v.size() - skip) *p++ = 0x00;
  for (size_t i = skip; i < v.size(); ++i) *p++ = v[i];
  return p;
}

// Reads one INTEGER at der[*at] into `out` (width bytes, left-padded); advances *at.
absl::Status ReadInteger(ByteView der, size_t* at, const char* name, uint8_t* out, size_t width) {
  size_t i = *at;
  if (der.size() - i < 2 || der[i] != kTagInteger) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECDSA signature: ", name, " is not an INTEGER"));
  }
  const size_t len = der[i + 1];
  i += 2;
  // A scalar of at most 66 bytes (+1 sign byte) always has a short-form length.
  if (len >= 0x80) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA signature: ", name, " is too long"));
  }
  if (len == 0 || der.size() - i < len) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA signature: ", name, " is truncated"));
  }
  ByteView v = der.subspan(i, len);
  if ((v[0] & 0x80) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA signature: ", name, " is negative"));
  }
  if (v[0] == 0x00) {
    if (len == 1) {
      return absl::InvalidArgumentError(absl::StrCat("ECDSA signature: ", name, " is zero"));
    }
    if ((v[1] & 0x80) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("ECDSA signature: ", name, " is not minimally encoded"));
    }
    v = v.subspan(1);
  }
  if (v.size() > width) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECDSA signature: ", name, " is ", v.size(), " bytes, wider than ", width));
  }
  const size_t pad = width - v.size();
  for (size_t k = 0; k < pad; ++k) out[k] = 0;
  for (size_t k = 0; k < v.size(); ++k) out[pad + k] = v[k];
  *at = i + len;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_t> EcdsaRawToDer(ByteView raw, absl::Span<uint8_t> out) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 2 * kMaxEcdsaScalarSize) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA r||s signature of ", raw.size(),
                                                   " bytes (expected an even length of 2 to ",
                                                   2 * kMaxEcdsaScalarSize, ")"));
  }
  const size_t width = raw.size() / 2;
  const ByteView r = raw.subspan(0, width);
  const ByteView s = raw.subspan(width);
  size_t r_skip = 0;
  size_t s_skip = 0;
  const size_t r_len = IntegerContentLength(r, &r_skip);
  const size_t s_len = IntegerContentLength(s, &s_skip);
  if (r_len == 0 || s_len == 0) {
    return absl::InvalidArgumentError("ECDSA r||s signature: r or s is zero");
  }
  const size_t body = 2 + r_len + 2 + s_len;
  const size_t total = body + (body < 0x80 ? 2 : 3);
  if (out.size() < total) {
    return absl::InvalidArgumentError(
        absl::StrCat("DER signature buffer of ", out.size(), " bytes, need ", total));
  }
  uint8_t* p = out.data();
  *p++ = kTagSequence;
  if (body >= 0x80) *p++ = 0x81;
  *p++ = static_cast<uint8_t>(body);
  p = WriteInteger(r, r_skip, r_len, p);
  WriteInteger(s, s_skip, s_len, p);
  return total;
}

absl::StatusOr<size_t> EcdsaDerToRaw(ByteView der, size_t width, absl::Span<uint8_t> out) {
  if (width == 0 || width > kMaxEcdsaScalarSize || out.size() < 2 * width) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECDSA scalar width ", width, " with ", out.size(), " bytes of output"));
  }
  if (der.size() < 2 || der[0] != kTagSequence) {
    return absl::InvalidArgumentError("ECDSA signature: not a DER SEQUENCE");
  }
  size_t at = 2;
  size_t len = der[1];
  if (len == 0x81) {
    if (der.size() < 3 || der[2] < 0x80) {
      return absl::InvalidArgumentError("ECDSA signature: bad SEQUENCE length");
    }
    len = der[2];
    at = 3;
  } else if (len >= 0x80) {
    return absl::InvalidArgumentError("ECDSA signature: bad SEQUENCE length");
  }
  if (der.size() - at != len) {
    return absl::InvalidArgumentError(absl::StrCat("ECDSA signature: SEQUENCE of ", len,
                                                   " bytes in ", der.size() - at, " bytes"));
  }
  if (absl::Status st = ReadInteger(der, &at, "r", out.data(), width); !st.ok()) return st;
  if (absl::Status st = ReadInteger(der, &at, "s", out.data() + width, width); !st.ok()) return st;
  if (at != der.size()) {
    return absl::InvalidArgumentError("ECDSA signature: data after s");
  }
  for (size_t which = 0; which < 2; ++which) {
    uint8_t any = 0;
    for (size_t k = 0; k < width; ++k) any |= out[which * width + k];
    if (any == 0) return absl::InvalidArgumentError("ECDSA signature: r or s is zero");
  }
  return 2 * width;
}

namespace {
// a − b over big-endian numbers of equal width into `diff` (may be null); returns the borrow
// out (1 if a < b). Constant time.
uint8_t Subtract(ByteView a, ByteView b, uint8_t* diff) {
  unsigned borrow = 0;
  for (size_t k = a.size(); k-- > 0;) {
    const unsigned d = static_cast<unsigned>(a[k]) - b[k] - borrow;
    if (diff != nullptr) diff[k] = static_cast<uint8_t>(d & 0xFF);
    borrow = (d >> 8) & 1;
  }
  return static_cast<uint8_t>(borrow);
}
}  // namespace

bool IsLowS(ByteView s, ByteView half_order) {
  return s.size() == half_order.size() && Subtract(half_order, s, nullptr) == 0;
}

bool NormalizeLowS(absl::Span<uint8_t> s, ByteView order, ByteView half_order) {
  if (s.size() != order.size() || s.size() != half_order.size() || s.size() > kMaxEcdsaScalarSize) {
    return false;
  }
  // high = 1 iff half_order < s.
  const uint8_t high = Subtract(half_order, s, nullptr);
  uint8_t negated[kMaxEcdsaScalarSize];
  Subtract(order, s, negated);
  const auto mask = static_cast<uint8_t>(0u - high);
  for (size_t k = 0; k < s.size(); ++k) {
    s[k] = static_cast<uint8_t>((negated[k] & mask) | (s[k] & static_cast<uint8_t>(~mask)));
  }
  return high != 0;
}

}  // namespace lockout::signer
