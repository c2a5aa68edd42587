#include "src/common/encoding.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(HexTest, RoundTripsAllByteValues) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  std::string hex = HexEncode(all);
  EXPECT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  auto back = HexDecode(hex);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, all);
}

TEST(HexTest, AcceptsUpperCase) {
  auto b = HexDecode("DEADbeef");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (Bytes{0xde, 0xad, 0xbe, 0xef}));
}

TEST(HexTest, RejectsOddLength) { EXPECT_FALSE(HexDecode("abc").ok()); }

TEST(HexTest, RejectsInvalidCharacterWithOffset) {
  auto b = HexDecode("00zz");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), ::testing::HasSubstr("offset 2"));
  EXPECT_FALSE(HexDecode("0x00").ok());
  EXPECT_FALSE(HexDecode(" 00").ok());
}

TEST(HexTest, PrefixOnlyWhereAllowed) {
  auto b = HexDecodeAllowPrefix("0xff");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, Bytes{0xff});
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), enc);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(ToString(*dec), plain);
  }
}

TEST(Base64Test, RejectsMalformedInput) {
  EXPECT_FALSE(Base64Decode("Zg").ok());        // missing padding
  EXPECT_FALSE(Base64Decode("Zg=").ok());       // short
  EXPECT_FALSE(Base64Decode("Z===").ok());      // too much padding
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());    // whitespace
  EXPECT_FALSE(Base64Decode("Zm-v").ok());      // url alphabet
  EXPECT_FALSE(Base64Decode("Zg==Zm9v").ok());  // padding in the middle
  EXPECT_FALSE(Base64Decode("Zh==").ok());      // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("Zm9=").ok());      // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("====").ok());
}

}  // namespace
}  // namespace lockout
