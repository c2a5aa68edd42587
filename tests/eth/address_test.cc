#include "src/eth/address.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::eth {
namespace {

// secp256k1 generator G (private key 1), uncompressed.
constexpr char kGeneratorHex[] =
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

TEST(EthereumAddressTest, PrivateKeyOneGivesTheWellKnownAddress) {
  auto point = HexDecode(kGeneratorHex);
  ASSERT_TRUE(point.ok());
  auto address = EthereumAddress(*point);
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(ChecksumAddress(*address), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
}

TEST(EthereumAddressTest, PointComputedByOpenSslFromPrivateKeyOneMatches) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_secp256k1);
  ASSERT_NE(group, nullptr);
  EC_POINT* p = EC_POINT_new(group);
  BIGNUM* one = BN_new();
  ASSERT_EQ(BN_set_word(one, 1), 1);
  ASSERT_EQ(EC_POINT_mul(group, p, one, nullptr, nullptr, nullptr), 1);
  uint8_t buf[65];
  ASSERT_EQ(EC_POINT_point2oct(group, p, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof(buf), nullptr),
            65u);
  EXPECT_EQ(HexEncode(ByteView(buf, 65)), kGeneratorHex);
  BN_free(one);
  EC_POINT_free(p);
  EC_GROUP_free(group);
}

TEST(EthereumAddressTest, RejectsPointsThatAreNotUncompressed) {
  auto point = HexDecode(kGeneratorHex);
  ASSERT_TRUE(point.ok());
  EXPECT_FALSE(EthereumAddress(ByteView(*point).subspan(0, 64)).ok());  // truncated
  EXPECT_FALSE(EthereumAddress(ByteView(*point).subspan(1)).ok());      // no 04 prefix
  Bytes compressed(point->begin(), point->begin() + 33);
  compressed[0] = 0x02;
  EXPECT_FALSE(EthereumAddress(compressed).ok());
  Bytes wrong_prefix = *point;
  wrong_prefix[0] = 0x03;
  auto r = EthereumAddress(wrong_prefix);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("65 bytes"));
  EXPECT_FALSE(EthereumAddress({}).ok());
}

TEST(ChecksumAddressTest, MatchesTheEip55Examples) {
  for (const char* expected :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    std::string lower = std::string(expected).substr(2);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto bytes = HexDecode(lower);
    ASSERT_TRUE(bytes.ok());
    std::array<uint8_t, 20> address;
    std::copy(bytes->begin(), bytes->end(), address.begin());
    EXPECT_EQ(ChecksumAddress(address), expected);
  }
}

TEST(ParseAddressTest, AcceptsLowerUpperAndChecksummedForms) {
  const char kChecksummed[] = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  auto mixed = ParseAddress(kChecksummed, "to");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(ChecksumAddress(*mixed), kChecksummed);
  EXPECT_EQ(*ParseAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "to"), *mixed);
  EXPECT_EQ(*ParseAddress("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "to"), *mixed);
}

TEST(ParseAddressTest, RefusesBadChecksumsAndMalformedText) {
  for (const char* bad : {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  // one letter flipped
                          "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", "0x5aaeb6053f",
                          "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                          "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", ""}) {
    auto parsed = ParseAddress(bad, "to");
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_THAT(std::string(parsed.status().message()), ::testing::HasSubstr("'to'"));
    }
  }
}

}  // namespace
}  // namespace lockout::eth
