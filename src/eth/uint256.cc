#include "src/eth/uint256.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::eth {
namespace {

absl::Status QuantityError(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("eth: field '", Absl(field), "' is not a valid quantity: ", Absl(why)));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// value = value * base + digit; false on overflow past 256 bits.
bool MultiplyAdd(Uint256& value, uint32_t base, uint32_t digit) {
  uint32_t carry = digit;
  for (size_t i = value.size(); i-- > 0;) {
    const uint32_t t = static_cast<uint32_t>(value[i]) * base + carry;
    value[i] = static_cast<uint8_t>(t & 0xff);
    carry = t >> 8;
  }
  return carry == 0;
}

// Parses the digits of an unsigned string quantity (after any sign).
absl::StatusOr<Uint256> ParseDigits(std::string_view s, std::string_view field) {
  Uint256 value{};
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    if (s[1] == 'X') return QuantityError(field, "the hex prefix must be '0x'");
    const std::string_view digits = s.substr(2);
    if (digits.empty()) return QuantityError(field, "'0x' without digits");
    if (digits.size() > 1 && digits[0] == '0') {
      return QuantityError(field, "hex quantity with leading zero digits");
    }
    if (digits.size() > 64) return QuantityError(field, "larger than 2^256-1");
    for (char c : digits) {
      const int d = HexDigit(c);
      if (d < 0) return QuantityError(field, "non-hex character");
      MultiplyAdd(value, 16, static_cast<uint32_t>(d));
    }
    return value;
  }
  if (s.empty()) return QuantityError(field, "empty string");
  if (s.size() > 1 && s[0] == '0') {
    return QuantityError(field, "decimal quantity with leading zero digits");
  }
  if (s.size() > 78) return QuantityError(field, "larger than 2^256-1");
  for (char c : s) {
    if (c < '0' || c > '9') return QuantityError(field, "non-decimal character");
    if (!MultiplyAdd(value, 10, static_cast<uint32_t>(c - '0'))) {
      return QuantityError(field, "larger than 2^256-1");
    }
  }
  return value;
}

}  // namespace

bool IsZero(const Uint256& value) {
  for (uint8_t b : value) {
    if (b != 0) return false;
  }
  return true;
}

Uint256 Uint256FromUint64(uint64_t value) {
  Uint256 out{};
  for (size_t i = 0; i < 8; ++i) out[31 - i] = static_cast<uint8_t>(value >> (8 * i));
  return out;
}

Bytes MinimalBigEndian(const Uint256& value) {
  size_t first = 0;
  while (first < value.size() && value[first] == 0) ++first;
  return Bytes(value.begin() + static_cast<std::ptrdiff_t>(first), value.end());
}

absl::StatusOr<Uint256> Uint256FromBigEndian(ByteView big_endian, std::string_view field) {
  if (big_endian.size() > 32) {
    return absl::InvalidArgumentError(absl::StrCat("eth: field '", Absl(field), "' has ",
                                                   big_endian.size(), " bytes; at most 32"));
  }
  Uint256 out{};
  std::copy(big_endian.begin(), big_endian.end(), out.end() - big_endian.size());
  return out;
}

int BitLength(const Uint256& value) {
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != 0) {
      int bits = 0;
      for (uint8_t b = value[i]; b != 0; b = static_cast<uint8_t>(b >> 1)) ++bits;
      return static_cast<int>((value.size() - i - 1) * 8) + bits;
    }
  }
  return 0;
}

std::optional<Uint256> TimesTwoPlus(const Uint256& value, uint32_t addend) {
  Uint256 out = value;
  if (!MultiplyAdd(out, 2, addend)) return std::nullopt;
  return out;
}

std::optional<Uint256> Minus(const Uint256& value, uint32_t subtrahend) {
  Uint256 out = value;
  uint64_t borrow = subtrahend;
  for (size_t i = out.size(); i-- > 0 && borrow != 0;) {
    const uint64_t low = borrow & 0xff;
    borrow >>= 8;
    if (out[i] >= low) {
      out[i] = static_cast<uint8_t>(out[i] - low);
    } else {
      out[i] = static_cast<uint8_t>(out[i] + 256 - low);
      ++borrow;
    }
  }
  if (borrow != 0) return std::nullopt;
  return out;
}

Uint256 Half(const Uint256& value) {
  Uint256 out{};
  uint8_t carry = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    out[i] = static_cast<uint8_t>((value[i] >> 1) | (carry << 7));
    carry = value[i] & 1;
  }
  return out;
}

Uint256 Negate(const Uint256& value) {
  Uint256 out{};
  uint32_t carry = 1;
  for (size_t i = value.size(); i-- > 0;) {
    const uint32_t t = static_cast<uint32_t>(static_cast<uint8_t>(~value[i])) + carry;
    out[i] = static_cast<uint8_t>(t & 0xff);
    carry = t >> 8;
  }
  return out;
}

absl::StatusOr<Uint256> ParseQuantity(const nlohmann::json& value, std::string_view field) {
  if (value.is_number_unsigned()) return Uint256FromUint64(value.get<uint64_t>());
  if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v < 0) return QuantityError(field, "negative");
    return Uint256FromUint64(static_cast<uint64_t>(v));
  }
  if (value.is_number_float()) {
    return QuantityError(field, "a JSON number with a fraction, an exponent or above 2^64-1");
  }
  if (!value.is_string()) return QuantityError(field, "not a number or a string");
  return ParseDigits(value.get_ref<const std::string&>(), field);
}

absl::StatusOr<SignedQuantity> ParseSignedQuantity(const nlohmann::json& value,
                                                   std::string_view field) {
  SignedQuantity out;
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    const int64_t v = value.get<int64_t>();
    out.negative = v < 0;
    // Two's-complement magnitude without overflow for INT64_MIN.
    out.magnitude =
        Uint256FromUint64(v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v));
    return out;
  }
  if (value.is_string()) {
    std::string_view s = value.get_ref<const std::string&>();
    if (!s.empty() && s[0] == '-') {
      auto magnitude = ParseDigits(s.substr(1), field);
      if (!magnitude.ok()) return magnitude.status();
      if (IsZero(*magnitude)) return QuantityError(field, "negative zero");
      out.negative = true;
      out.magnitude = *magnitude;
      return out;
    }
  }
  auto magnitude = ParseQuantity(value, field);
  if (!magnitude.ok()) return magnitude.status();
  out.magnitude = *magnitude;
  return out;
}

}  // namespace lockout::eth
