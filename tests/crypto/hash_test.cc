#include "src/crypto/hash.h"

#include <regex>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::crypto {
namespace {

TEST(HashTest, KnownAnswers) {
  // FIPS 180-2 "abc" vectors.
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha384(AsBytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HashTest, IncrementalMatchesOneShot) {
  Sha384Hasher h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(h.Finish(), Sha384(AsBytes("abc")));
}

TEST(HashTest, ExtendPcrHashesOldThenData) {
  Sha384Digest zero{};
  Bytes concat(zero.begin(), zero.end());
  concat.push_back('x');
  EXPECT_EQ(ExtendPcr(zero, AsBytes("x")), Sha384(concat));
}

TEST(HashTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals(AsBytes("abc"), AsBytes("abc")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("abc"), AsBytes("ab")));
}

TEST(HashTest, RandomBytesDiffer) {
  EXPECT_EQ(RandomBytes(32).size(), 32u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

TEST(RandomUuidTest, IsAFreshVersion4UuidInCanonicalForm) {
  const std::regex canonical(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string u = RandomUuid();
    EXPECT_TRUE(std::regex_match(u, canonical)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 200u);
}

}  // namespace
}  // namespace lockout::crypto
