#include "src/eif/crc32.h"

#include "gtest/gtest.h"
#include "src/crypto/hash.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

TEST(Crc32Test, MatchesTheCatalogueCheckValue) {
  // CRC-32/ISO-HDLC check value over "123456789" (the CRC catalogue's `check`).
  EXPECT_EQ(Crc32::Of(AsBytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(Crc32::Of(ByteView()), 0u);
}

TEST(Crc32Test, IsIndependentOfHowTheInputIsSplit) {
  const Bytes data = crypto::RandomBytes(1000);
  for (size_t split : {0u, 1u, 7u, 500u, 999u, 1000u}) {
    Crc32 c;
    c.Update(ByteView(data).subspan(0, split));
    c.Update(ByteView(data).subspan(split));
    EXPECT_EQ(c.Value(), Crc32::Of(data)) << "split at " << split;
  }
}

TEST(Crc32Test, AgreesWithABitwiseImplementation) {
  for (size_t n : {1u, 3u, 64u, 4097u}) {
    const Bytes data = crypto::RandomBytes(n);
    EXPECT_EQ(Crc32::Of(data), testutil::BitwiseCrc32(data)) << n << " bytes";
  }
}

}  // namespace
}  // namespace lockout::eif
