#include "src/eth/address.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/keccak.h"

namespace lockout::eth {

using crypto::Keccak256;
using crypto::Keccak256Digest;

absl::StatusOr<Address> EthereumAddress(ByteView uncompressed_point) {
  if (uncompressed_point.size() != 65 || uncompressed_point[0] != 0x04) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ethereum address needs the 65-byte uncompressed point 04||X||Y; got ",
        uncompressed_point.size(), " bytes",
        uncompressed_point.empty()
            ? ""
            : absl::StrCat(" starting with 0x", HexEncode(uncompressed_point.subspan(0, 1)))));
  }
  const Keccak256Digest digest = Keccak256(uncompressed_point.subspan(1));
  Address address;
  std::memcpy(address.data(), digest.data() + 12, address.size());
  return address;
}

std::string ChecksumAddress(const Address& address) {
  const std::string lower = HexEncode(address);
  const Keccak256Digest digest = Keccak256(AsBytes(lower));
  std::string out = "0x";
  for (size_t i = 0; i < lower.size(); ++i) {
    const uint8_t nibble = (i % 2 == 0) ? (digest[i / 2] >> 4) : (digest[i / 2] & 0x0f);
    const char c = lower[i];
    out.push_back((c >= 'a' && c <= 'f' && nibble >= 8) ? static_cast<char>(c - 'a' + 'A') : c);
  }
  return out;
}

absl::StatusOr<Address> ParseAddress(std::string_view text, std::string_view field) {
  auto error = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("eth: field '", Absl(field), "' is not an address: ", Absl(why)));
  };
  if (text.size() != 42 || text[0] != '0' || text[1] != 'x') {
    return error("expected 0x and 40 hex digits");
  }
  const std::string_view digits = text.substr(2);
  auto decoded = HexDecode(digits);
  if (!decoded.ok()) return error("non-hex character");
  Address address;
  std::memcpy(address.data(), decoded->data(), address.size());
  bool has_lower = false;
  bool has_upper = false;
  for (char c : digits) {
    has_lower = has_lower || (c >= 'a' && c <= 'f');
    has_upper = has_upper || (c >= 'A' && c <= 'F');
  }
  if (has_lower && has_upper && ChecksumAddress(address).substr(2) != digits) {
    return error("mixed-case digits that are not its EIP-55 checksum");
  }
  return address;
}

}  // namespace lockout::eth
