#include "src/eth/rlp.h"

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::eth {
namespace {

Bytes Hex(std::string_view hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes{};
}

RlpItem Str(std::string_view s) { return RlpItem::String(AsBytes(s)); }

// Vectors from the Ethereum wiki's RLP page (ethereum.org "Recursive-length prefix").
TEST(RlpTest, EncodesTheWellKnownVectors) {
  EXPECT_EQ(HexEncode(RlpEncode(Str("dog"))), "83646f67");
  EXPECT_EQ(HexEncode(RlpEncode(RlpItem::List({Str("cat"), Str("dog")}))), "c88363617483646f67");
  EXPECT_EQ(HexEncode(RlpEncode(Str(""))), "80");
  EXPECT_EQ(HexEncode(RlpEncode(RlpItem::List({}))), "c0");
  EXPECT_EQ(HexEncode(RlpEncodeUint(uint64_t{0})), "80");
  EXPECT_EQ(HexEncode(RlpEncodeString(Bytes{0x00})), "00");
  EXPECT_EQ(HexEncode(RlpEncodeString(Bytes{0x0f})), "0f");
  EXPECT_EQ(HexEncode(RlpEncodeUint(uint64_t{15})), "0f");
  EXPECT_EQ(HexEncode(RlpEncodeUint(uint64_t{1024})), "820400");
  EXPECT_EQ(HexEncode(RlpEncodeString(Bytes{0x04, 0x00})), "820400");
  // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ].
  const RlpItem empty = RlpItem::List({});
  const RlpItem one = RlpItem::List({empty});
  const RlpItem three = RlpItem::List({empty, one, RlpItem::List({empty, one})});
  EXPECT_EQ(HexEncode(RlpEncode(three)), "c7c0c1c0c3c0c1c0");
  const std::string lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
  ASSERT_EQ(lorem.size(), 56u);
  EXPECT_EQ(HexEncode(RlpEncode(Str(lorem))), "b838" + HexEncode(AsBytes(lorem)));
}

TEST(RlpTest, DecodesTheWellKnownVectorsBack) {
  const std::string lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
  const RlpItem empty = RlpItem::List({});
  const RlpItem one = RlpItem::List({empty});
  const std::vector<std::pair<std::string, RlpItem>> cases = {
      {"83646f67", Str("dog")},
      {"c88363617483646f67", RlpItem::List({Str("cat"), Str("dog")})},
      {"80", Str("")},
      {"c0", empty},
      {"0f", RlpItem::String(Bytes{0x0f})},
      {"820400", RlpItem::String(Bytes{0x04, 0x00})},
      {"c7c0c1c0c3c0c1c0", RlpItem::List({empty, one, RlpItem::List({empty, one})})},
      {"b838" + HexEncode(AsBytes(lorem)), Str(lorem)},
  };
  for (const auto& [hex, expected] : cases) {
    auto decoded = RlpDecode(Hex(hex));
    ASSERT_TRUE(decoded.ok()) << hex << ": " << decoded.status();
    EXPECT_EQ(*decoded, expected) << hex;
  }
}

TEST(RlpTest, LongListRoundTrips) {
  std::vector<RlpItem> items(30, Str("ab"));  // 90-byte payload: long list form f8 5a
  const Bytes encoded = RlpEncode(RlpItem::List(items));
  EXPECT_EQ(HexEncode(encoded).substr(0, 4), "f85a");
  auto decoded = RlpDecode(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->list.size(), 30u);
}

TEST(RlpTest, RefusesNonCanonicalAndMalformedEncodings) {
  const std::string lorem_hex =
      HexEncode(AsBytes("Lorem ipsum dolor sit amet, consectetur adipisicing elit"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty input"},
      {"8100", "single byte below 0x80 as a string"},
      {"817f", "single byte below 0x80 as a string"},
      {"b803646f67", "long form for a short string"},
      {"f803c0c0c0", "long form for a short list"},
      {"b90038" + lorem_hex, "length with a leading zero"},
      {"83646f", "truncated string"},
      {"c88363617483646f", "truncated list"},
      {"b8", "truncated length"},
      {"83646f6700", "trailing byte"},
      {"c0c0", "trailing item"},
      {"c3836361", "list payload cut inside a child"},
      {"bfffffffffffffffff", "absurd length"},
  };
  for (const auto& [hex, what] : cases) {
    auto decoded = RlpDecode(Hex(hex));
    EXPECT_FALSE(decoded.ok()) << what << ": " << hex;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(RlpTest, EnforcesDepthItemAndSizeLimits) {
  RlpItem nested = RlpItem::List({});
  for (int i = 0; i < 20; ++i) nested = RlpItem::List({nested});
  const Bytes deep = RlpEncode(nested);
  EXPECT_FALSE(RlpDecode(deep).ok());
  EXPECT_TRUE(RlpDecode(deep, RlpLimits{.max_depth = 32}).ok());

  const Bytes many = RlpEncode(RlpItem::List(std::vector<RlpItem>(100, Str(""))));
  EXPECT_FALSE(RlpDecode(many, RlpLimits{.max_items = 50}).ok());
  EXPECT_FALSE(RlpDecode(many, RlpLimits{.max_input_bytes = 10}).ok());
  EXPECT_TRUE(RlpDecode(many).ok());
}

TEST(RlpTest, IntegerFieldsMustBeCanonical) {
  EXPECT_TRUE(RlpItemToUint(RlpItem::String(Bytes{0x04, 0x00}), "x").ok());
  EXPECT_TRUE(IsZero(*RlpItemToUint(RlpItem::String(Bytes{}), "x")));
  EXPECT_FALSE(RlpItemToUint(RlpItem::String(Bytes{0x00}), "x").ok());
  EXPECT_FALSE(RlpItemToUint(RlpItem::String(Bytes{0x00, 0x01}), "x").ok());
  EXPECT_FALSE(RlpItemToUint(RlpItem::String(Bytes(33, 0x01)), "x").ok());
  EXPECT_FALSE(RlpItemToUint(RlpItem::List({}), "x").ok());
}

}  // namespace
}  // namespace lockout::eth
