#include "src/eth/uint256.h"

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::eth {
namespace {

using nlohmann::json;

std::string Hex(const Uint256& v) { return HexEncode(MinimalBigEndian(v)); }

TEST(Uint256Test, ParsesJsonRpcQuantitiesDecimalStringsAndIntegers) {
  EXPECT_EQ(Hex(*ParseQuantity(json("0x0"), "f")), "");
  EXPECT_EQ(Hex(*ParseQuantity(json("0x400"), "f")), "0400");
  EXPECT_EQ(Hex(*ParseQuantity(json("0xAbC"), "f")), "0abc");
  EXPECT_EQ(Hex(*ParseQuantity(json("1024"), "f")), "0400");
  EXPECT_EQ(Hex(*ParseQuantity(json("0"), "f")), "");
  EXPECT_EQ(Hex(*ParseQuantity(json(1024), "f")), "0400");
  EXPECT_EQ(Hex(*ParseQuantity(json(18446744073709551615ull), "f")), "ffffffffffffffff");
  EXPECT_EQ(Hex(*ParseQuantity(json("1000000000000000000"), "f")), "0de0b6b3a7640000");
  const std::string max_hex = "0x" + std::string(64, 'f');
  EXPECT_EQ(Hex(*ParseQuantity(json(max_hex), "f")), std::string(64, 'f'));
  const std::string max_dec =
      "115792089237316195423570985008687907853269984665640564039457584007913129639935";
  EXPECT_EQ(Hex(*ParseQuantity(json(max_dec), "f")), std::string(64, 'f'));
}

TEST(Uint256Test, RefusesMalformedAndOversizedQuantities) {
  const std::vector<json> bad = {
      json("0x"),
      json("0x00"),
      json("0x0400"),
      json("0X1"),
      json("0xg"),
      json(""),
      json("01"),
      json("-1"),
      json("1.5"),
      json(" 1"),
      json("1e3"),
      json(-1),
      json(1.5),
      json(true),
      json(nullptr),
      json::array(),
      json::object(),
      json("0x1" + std::string(64, '0')),
      json("115792089237316195423570985008687907853269984665640564039457584007913129639936"),
      json(std::string(79, '9')),
  };
  for (const json& j : bad) {
    auto parsed = ParseQuantity(j, "value");
    EXPECT_FALSE(parsed.ok()) << j.dump();
    if (!parsed.ok()) {
      EXPECT_NE(std::string(parsed.status().message()).find("'value'"), std::string::npos);
    }
  }
}

TEST(Uint256Test, SignedQuantities) {
  auto neg = ParseSignedQuantity(json("-128"), "f");
  ASSERT_TRUE(neg.ok());
  EXPECT_TRUE(neg->negative);
  EXPECT_EQ(Hex(neg->magnitude), "80");
  auto neg_int = ParseSignedQuantity(json(INT64_MIN), "f");
  ASSERT_TRUE(neg_int.ok());
  EXPECT_EQ(Hex(neg_int->magnitude), "8000000000000000");
  EXPECT_FALSE(ParseSignedQuantity(json("-0"), "f").ok());
  EXPECT_FALSE(ParseSignedQuantity(json("--1"), "f").ok());
  EXPECT_FALSE(ParseSignedQuantity(json("-"), "f").ok());
  EXPECT_TRUE(ParseSignedQuantity(json("-0x10"), "f")->negative);
}

TEST(Uint256Test, Arithmetic) {
  EXPECT_EQ(Hex(*TimesTwoPlus(Uint256FromUint64(1), 36)), "26");  // EIP-155 v = 37
  EXPECT_EQ(Hex(*Minus(Uint256FromUint64(37), 35)), "02");
  EXPECT_FALSE(Minus(Uint256FromUint64(34), 35).has_value());
  EXPECT_EQ(Hex(*Minus(Uint256FromUint64(0x100), 1)), "ff");
  EXPECT_EQ(Hex(Half(Uint256FromUint64(0x301))), "0180");
  Uint256 max;
  max.fill(0xff);
  EXPECT_FALSE(TimesTwoPlus(max, 0).has_value());
  EXPECT_EQ(Hex(Negate(Uint256FromUint64(1))), std::string(64, 'f'));
  EXPECT_EQ(BitLength(Uint256FromUint64(0)), 0);
  EXPECT_EQ(BitLength(Uint256FromUint64(0x80)), 8);
  EXPECT_EQ(BitLength(max), 256);
  EXPECT_FALSE(Uint256FromBigEndian(Bytes(33, 1), "f").ok());
}

}  // namespace
}  // namespace lockout::eth
