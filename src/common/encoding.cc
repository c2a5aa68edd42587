#include "src/common/encoding.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace lockout {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<int8_t, 256> MakeB64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kB64Alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kB64Table = MakeB64Table();

}  // namespace

std::string HexEncode(ByteView data) {
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
  return out;
}

absl::StatusOr<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("hex: odd length ", hex.size()));
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("hex: invalid character at offset ", hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

absl::StatusOr<Bytes> HexDecodeAllowPrefix(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
  return HexDecode(hex);
}

std::string Base64Encode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back(kB64Alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

absl::StatusOr<Bytes> Base64Decode(std::string_view b64) {
  Bytes out;
  RETURN_IF_ERROR(Base64DecodeTo(b64, out));
  return out;
}

absl::Status Base64DecodeTo(std::string_view b64, Bytes& out) {
  out.clear();
  if (b64.size() % 4 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("base64: length ", b64.size(), " is not a multiple of 4"));
  }
  size_t pad = 0;
  if (!b64.empty() && b64.back() == '=')
    pad = (b64.size() >= 2 && b64[b64.size() - 2] == '=') ? 2 : 1;
  out.reserve(b64.size() / 4 * 3);
  for (size_t i = 0; i < b64.size(); i += 4) {
    bool last = i + 4 == b64.size();
    size_t quad_pad = last ? pad : 0;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = b64[i + j];
      if (j >= 4 - quad_pad) {
        if (c != '=') return absl::InvalidArgumentError("base64: bad padding");
        v <<= 6;
        continue;
      }
      int8_t d = kB64Table[static_cast<uint8_t>(c)];
      if (d < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("base64: invalid character at offset ", i + j));
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (quad_pad < 2) out.push_back(static_cast<uint8_t>(v >> 8));
    if (quad_pad < 1) out.push_back(static_cast<uint8_t>(v));
    // Canonical form: the bits dropped by padding must be zero.
    if ((quad_pad == 1 && (v & 0xff) != 0) || (quad_pad == 2 && (v & 0xffff) != 0)) {
      return absl::InvalidArgumentError("base64: non-zero trailing bits");
    }
  }
  return absl::OkStatus();
}

}  // namespace lockout
