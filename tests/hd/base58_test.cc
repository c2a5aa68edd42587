#include "src/hd/base58.h"

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::hd {
namespace {

TEST(Base58Check, RoundTripsAndKeepsLeadingZeros) {
  const Bytes payload = {0x00, 0x00, 0x01, 0x02, 0xff};
  auto text = Base58CheckEncode(payload);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->substr(0, 2), "11");
  auto back = Base58CheckDecode(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, payload);
}

TEST(Base58Check, KnownAnswerVersionZeroHash160) {
  // The Bitcoin address of HASH160 = 0 (version byte 0x00): a widely published value.
  const Bytes payload(21, 0);
  auto text = Base58CheckEncode(payload);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "1111111111111111111114oLvT2");
}

TEST(Base58Check, EmptyPayload) {
  auto text = Base58CheckEncode(Bytes{});
  ASSERT_TRUE(text.ok());
  auto back = Base58CheckDecode(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
}

TEST(Base58Check, SecretVariantsMatchPublicOnes) {
  const Bytes payload = {0x04, 0x88, 0xad, 0xe4, 0x00, 0x42};
  auto pub = Base58CheckEncode(payload);
  auto sec = Base58CheckEncodeSecret(SecretBytes::CopyFrom(ByteView(payload)));
  ASSERT_TRUE(pub.ok() && sec.ok());
  EXPECT_EQ(*pub, sec->RevealAsString());
  auto back = Base58CheckDecodeSecret(*pub);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToString(back->Reveal()), ToString(payload));
}

TEST(Base58Check, RejectsBadInput) {
  EXPECT_FALSE(Base58CheckDecode("").ok());
  EXPECT_FALSE(Base58CheckDecode("0OIl").ok());           // not in the alphabet
  EXPECT_FALSE(Base58CheckDecode("1111").ok());           // four zero bytes: checksum mismatch
  EXPECT_FALSE(Base58CheckDecode(std::string(201, '2')).ok());  // oversized
  auto text = Base58CheckEncode(Bytes{1, 2, 3});
  ASSERT_TRUE(text.ok());
  std::string bad = *text;
  bad.back() = bad.back() == '2' ? '3' : '2';
  auto st = Base58CheckDecode(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Base58CheckEncode(Bytes(kMaxBase58PayloadSize + 1, 1)).ok());
}

TEST(Base58Check, ErrorNamesPositionNotCharacter) {
  auto st = Base58CheckDecode("abc0def");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.status().message()).find("position 3"), std::string::npos);
}

}  // namespace
}  // namespace lockout::hd
