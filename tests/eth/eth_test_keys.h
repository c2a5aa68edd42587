#pragma once

// Test helper: the Ethereum address of a secp256k1 private key, computed with OpenSSL (an
// implementation independent of the libsecp256k1 recovery under test).

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <string_view>

#include "src/common/encoding.h"
#include "src/eth/address.h"

namespace lockout::eth::testing {

inline std::string AddressOfPrivateKey(std::string_view private_key_hex) {
  auto key = HexDecode(private_key_hex);
  if (!key.ok()) return "bad key hex";
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_secp256k1);
  EC_POINT* point = EC_POINT_new(group);
  BIGNUM* k = BN_bin2bn(key->data(), static_cast<int>(key->size()), nullptr);
  uint8_t buf[65];
  size_t n = 0;
  if (EC_POINT_mul(group, point, k, nullptr, nullptr, nullptr) == 1) {
    n = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof(buf), nullptr);
  }
  BN_free(k);
  EC_POINT_free(point);
  EC_GROUP_free(group);
  auto address = EthereumAddress(ByteView(buf, n));
  return address.ok() ? ChecksumAddress(*address) : "no address";
}

}  // namespace lockout::eth::testing
