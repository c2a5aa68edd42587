#include "src/hd/base58.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/crypto/hash.h"

namespace lockout::hd {
namespace {

constexpr std::string_view kAlphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr size_t kChecksumSize = 4;

// Checksum of `payload`: the first 4 bytes of SHA-256(SHA-256(payload)). The digests are wiped
// (they are derived from secret payloads when an xprv is encoded).
std::array<uint8_t, kChecksumSize> Checksum(ByteView payload) {
  crypto::Sha256Digest first = crypto::Sha256(payload);
  crypto::Sha256Digest second = crypto::Sha256(first);
  std::array<uint8_t, kChecksumSize> out = {second[0], second[1], second[2], second[3]};
  WipeBytes(first.data(), first.size());
  WipeBytes(second.data(), second.size());
  return out;
}

// Base58 of `data` into secret storage. Big-number base conversion (256 -> 58) over a digit
// buffer that is itself a SecretBytes.
absl::StatusOr<SecretBytes> Encode(ByteView data) {
  if (data.size() > kMaxBase58PayloadSize + kChecksumSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("base58: payload of ", data.size(), " bytes exceeds the limit"));
  }
  size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // log(256)/log(58) < 1.37: digits needed for the rest.
  const size_t cap = (data.size() - zeros) * 137 / 100 + 1;
  SecretBytes digits(cap);
  absl::Span<uint8_t> d = digits.RevealMutable();
  size_t used = 0;  // digits in use, least significant first
  for (size_t i = zeros; i < data.size(); ++i) {
    uint32_t carry = data[i];
    for (size_t j = 0; j < used; ++j) {
      carry += static_cast<uint32_t>(d[j]) << 8;
      d[j] = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry != 0) {
      d[used++] = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
  }
  SecretBytes out(zeros + used);
  absl::Span<uint8_t> o = out.RevealMutable();
  for (size_t i = 0; i < zeros; ++i) o[i] = static_cast<uint8_t>(kAlphabet[0]);
  for (size_t i = 0; i < used; ++i) {
    o[zeros + i] = static_cast<uint8_t>(kAlphabet[d[used - 1 - i]]);
  }
  return out;
}

int DigitValue(char c) {
  const size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

absl::StatusOr<SecretBytes> Decode(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("base58: empty text");
  if (text.size() > kMaxBase58TextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("base58: text of ", text.size(), " characters exceeds the limit"));
  }
  size_t ones = 0;
  while (ones < text.size() && text[ones] == kAlphabet[0]) ++ones;
  // log(58)/log(256) < 0.74.
  const size_t cap = (text.size() - ones) * 74 / 100 + 1;
  SecretBytes bytes(cap);
  absl::Span<uint8_t> b = bytes.RevealMutable();
  size_t used = 0;  // bytes in use, least significant first
  for (size_t i = ones; i < text.size(); ++i) {
    const int v = DigitValue(text[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("base58: character at position ", i, " is not in the alphabet"));
    }
    uint32_t carry = static_cast<uint32_t>(v);
    for (size_t j = 0; j < used; ++j) {
      carry += static_cast<uint32_t>(b[j]) * 58;
      b[j] = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry != 0) {
      b[used++] = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
  }
  SecretBytes out(ones + used);
  absl::Span<uint8_t> o = out.RevealMutable();
  for (size_t i = 0; i < used; ++i) o[ones + i] = b[used - 1 - i];
  return out;
}

absl::StatusOr<SecretBytes> CheckEncode(ByteView payload) {
  if (payload.size() > kMaxBase58PayloadSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("base58check: payload of ", payload.size(), " bytes exceeds the limit"));
  }
  SecretBytes framed(payload.size() + kChecksumSize);
  absl::Span<uint8_t> f = framed.RevealMutable();
  std::copy(payload.begin(), payload.end(), f.begin());
  const std::array<uint8_t, kChecksumSize> sum = Checksum(payload);
  std::copy(sum.begin(), sum.end(), f.begin() + static_cast<ptrdiff_t>(payload.size()));
  return Encode(framed.Reveal());
}

absl::StatusOr<SecretBytes> CheckDecode(std::string_view text) {
  ASSIGN_OR_RETURN(SecretBytes framed, Decode(text));
  if (framed.size() < kChecksumSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("base58check: ", framed.size(), " bytes is shorter than the checksum"));
  }
  const size_t n = framed.size() - kChecksumSize;
  const ByteView payload = framed.Reveal().subspan(0, n);
  const std::array<uint8_t, kChecksumSize> sum = Checksum(payload);
  if (CRYPTO_memcmp(sum.data(), framed.Reveal().data() + n, kChecksumSize) != 0) {
    return absl::InvalidArgumentError("base58check: checksum mismatch");
  }
  return SecretBytes::CopyFrom(payload);
}

}  // namespace

absl::StatusOr<std::string> Base58CheckEncode(ByteView payload) {
  ASSIGN_OR_RETURN(SecretBytes text, CheckEncode(payload));
  return std::string(text.RevealAsString());
}

absl::StatusOr<SecretBytes> Base58CheckEncodeSecret(const SecretBytes& payload) {
  return CheckEncode(payload.Reveal());
}

absl::StatusOr<Bytes> Base58CheckDecode(std::string_view text) {
  ASSIGN_OR_RETURN(SecretBytes payload, CheckDecode(text));
  return Bytes(payload.Reveal().begin(), payload.Reveal().end());
}

absl::StatusOr<SecretBytes> Base58CheckDecodeSecret(std::string_view text) {
  return CheckDecode(text);
}

}  // namespace lockout::hd
