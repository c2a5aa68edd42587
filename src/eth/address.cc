#include "src/eth/address.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
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

}  // namespace lockout::eth
