// PathPattern (the signing policy's "paths"): strict grammar, canonical text, matching.

#include "src/hd/path_pattern.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout::hd {
namespace {

DerivationPath P(std::string_view text) { return *DerivationPath::Parse(text); }

TEST(PathPatternTest, LiteralsAndWildcardsMatchExactlyOneLevel) {
  const PathPattern p = *PathPattern::Parse("m/44'/60'/0'/0/*");
  EXPECT_TRUE(p.Matches(P("m/44'/60'/0'/0/0")));
  EXPECT_TRUE(p.Matches(P("m/44'/60'/0'/0/2147483647")));
  EXPECT_FALSE(p.Matches(P("m/44'/60'/0'/0/0'")));   // * is normal only
  EXPECT_FALSE(p.Matches(P("m/44'/60'/0'/0")));      // shorter
  EXPECT_FALSE(p.Matches(P("m/44'/60'/0'/0/5/7")));  // deeper
  EXPECT_FALSE(p.Matches(P("m/44'/60'/1'/0/0")));    // another account
  EXPECT_FALSE(p.Matches(P("m/44/60'/0'/0/0")));     // hardened-ness of a literal
}

TEST(PathPatternTest, HardenedWildcardAndRoot) {
  const PathPattern p = *PathPattern::Parse("m/44h/*H/*'/0/*");
  EXPECT_EQ(p.ToString(), "m/44'/*'/*'/0/*");
  EXPECT_TRUE(p.Matches(P("m/44'/60'/3'/0/9")));
  EXPECT_FALSE(p.Matches(P("m/44'/60/3'/0/9")));
  const PathPattern root = *PathPattern::Parse("m");
  EXPECT_TRUE(root.Matches(DerivationPath()));
  EXPECT_FALSE(root.Matches(P("m/0")));
}

TEST(PathPatternTest, CanonicalTextParsesBackToTheSamePattern) {
  for (const char* text : {"m", "m/0", "m/*", "m/*'", "m/1'/2h/3H/*/*h", "m/2147483647'"}) {
    const PathPattern p = *PathPattern::Parse(text);
    EXPECT_EQ(*PathPattern::Parse(p.ToString()), p) << text;
  }
}

TEST(PathPatternTest, MalformedPatternsAreRefusedWithoutEchoingThem) {
  for (const char* text :
       {"", "M/0", "m/", "m//0", "m/**", "m/*x", "m/*''", "m/0/", "m/01", "m/2147483648", "m/-1",
        "m/ 1", "m/1''", "m/a", "n/0", "m0", "m/*/secret-text"}) {
    absl::StatusOr<PathPattern> p = PathPattern::Parse(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(p.status().message()).find("secret-text"), std::string::npos);
  }
  std::string deep = "m";
  for (int i = 0; i < 256; ++i) deep += "/*";
  EXPECT_FALSE(PathPattern::Parse(deep).ok());
  EXPECT_FALSE(PathPattern::Parse(std::string(5000, 'm')).ok());
}

}  // namespace
}  // namespace lockout::hd
