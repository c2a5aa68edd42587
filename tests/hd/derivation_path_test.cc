#include "src/hd/derivation_path.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lockout::hd {
namespace {

TEST(DerivationPath, ParsesBip44Path) {
  auto path = DerivationPath::Parse("m/44'/60'/0'/0/0");
  ASSERT_TRUE(path.ok()) << path.status();
  const std::vector<uint32_t> want = {44 + kHardenedOffset, 60 + kHardenedOffset,
                                      kHardenedOffset, 0, 0};
  EXPECT_EQ(path->indices(), want);
  EXPECT_EQ(path->ToString(), "m/44'/60'/0'/0/0");
}

TEST(DerivationPath, AcceptsHAndCapitalHAsHardened) {
  auto a = DerivationPath::Parse("m/44h/60H/0'");
  auto b = DerivationPath::Parse("m/44'/60'/0'");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->ToString(), "m/44'/60'/0'");
}

TEST(DerivationPath, MasterAlone) {
  auto path = DerivationPath::Parse("m");
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(path->indices().empty());
  EXPECT_EQ(path->ToString(), "m");
}

TEST(DerivationPath, LargestIndices) {
  auto path = DerivationPath::Parse("m/2147483647/2147483647'");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->indices()[0], 0x7fffffffu);
  EXPECT_EQ(path->indices()[1], 0xffffffffu);
}

TEST(DerivationPath, RejectsMalformedPaths) {
  for (const char* bad :
       {"", "M/0", "/0", "m/", "m//0", "m/0/", "0/1", "m0", "m/2147483648", "m/2147483648'",
        "m/99999999999999999999", "m/-1", "m/+1", "m/01", "m/0''", "m/0h'", "m/ 0", "m/0 ",
        "m/0x10", "m/1/a", "m/1'/", "mm/1", "m/1\n"}) {
    EXPECT_FALSE(DerivationPath::Parse(bad).ok()) << bad;
  }
}

TEST(DerivationPath, DepthLimitIs255) {
  std::string text = "m";
  for (int i = 0; i < 255; ++i) text += "/1";
  EXPECT_TRUE(DerivationPath::Parse(text).ok());
  text += "/1";
  EXPECT_FALSE(DerivationPath::Parse(text).ok());
  EXPECT_FALSE(DerivationPath::FromIndices(std::vector<uint32_t>(256, 0)).ok());
  EXPECT_TRUE(DerivationPath::FromIndices(std::vector<uint32_t>(255, 0)).ok());
}

TEST(DerivationPath, ErrorsDoNotEchoInput) {
  auto st = DerivationPath::Parse("m/1/secretword");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.status().message()).find("secret"), std::string::npos);
}

TEST(DerivationPath, FromIndicesRoundTrips) {
  auto path = DerivationPath::FromIndices({1, kHardenedOffset + 2, 3});
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->ToString(), "m/1/2'/3");
  auto again = DerivationPath::Parse(path->ToString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *path);
}

}  // namespace
}  // namespace lockout::hd
