// The HD seed secret encoding (hd/seed_secret.h): round trip, strict parsing.

#include "src/hd/seed_secret.h"

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::hd {
namespace {

SecretBytes Seed(size_t n) {
  SecretBytes s(n);
  for (size_t i = 0; i < n; ++i) s.RevealMutable()[i] = static_cast<uint8_t>(i);
  return s;
}

TEST(SeedSecretTest, RoundTripsEveryCurveAndSize) {
  for (Curve curve : {Curve::kSecp256k1, Curve::kNist256p1, Curve::kEd25519}) {
    for (size_t n : {size_t{16}, size_t{32}, size_t{64}}) {
      const SecretBytes seed = Seed(n);
      absl::StatusOr<SecretBytes> encoded = EncodeSeedSecret(curve, seed);
      ASSERT_TRUE(encoded.ok());
      EXPECT_EQ(encoded->size(), kSeedSecretHeaderSize + n);
      EXPECT_TRUE(LooksLikeSeedSecret(encoded->Reveal()));
      absl::StatusOr<SeedSecret> parsed = ParseSeedSecret(*encoded);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(parsed->curve, curve);
      EXPECT_TRUE(parsed->seed.Equals(seed));
    }
  }
}

TEST(SeedSecretTest, TheLayoutIsTheDocumentedOne) {
  const SecretBytes encoded = *EncodeSeedSecret(Curve::kEd25519, Seed(16));
  EXPECT_EQ(HexEncode(encoded.Reveal()), HexEncode(AsBytes("lockout-hd-seed")) + "01" + "03" +
                                             "10" + "000102030405060708090a0b0c0d0e0f");
}

TEST(SeedSecretTest, MalformedSecretsAreRefused) {
  EXPECT_FALSE(EncodeSeedSecret(Curve::kSecp256k1, Seed(15)).ok());
  EXPECT_FALSE(EncodeSeedSecret(Curve::kSecp256k1, Seed(65)).ok());
  const SecretBytes encoded = *EncodeSeedSecret(Curve::kSecp256k1, Seed(32));
  const Bytes good(encoded.Reveal().begin(), encoded.Reveal().end());
  auto parse = [](Bytes b) { return ParseSeedSecret(SecretBytes::CopyFrom(ByteView(b))); };
  ASSERT_TRUE(parse(good).ok());
  Bytes b = good;
  b[0] = 'L';
  EXPECT_FALSE(parse(b).ok());  // magic
  b = good;
  b[15] = 2;
  EXPECT_FALSE(parse(b).ok());  // version
  for (uint8_t curve : {uint8_t{0}, uint8_t{4}, uint8_t{255}}) {
    b = good;
    b[16] = curve;
    EXPECT_FALSE(parse(b).ok()) << int{curve};
  }
  for (uint8_t n : {uint8_t{0}, uint8_t{15}, uint8_t{33}, uint8_t{65}}) {
    b = good;
    b[17] = n;
    EXPECT_FALSE(parse(b).ok()) << int{n};
  }
  b = good;
  b.push_back(0);
  EXPECT_FALSE(parse(b).ok());  // trailing byte
  b = good;
  b.pop_back();
  EXPECT_FALSE(parse(b).ok());  // truncated
  EXPECT_FALSE(parse(Bytes(good.begin(), good.begin() + 17)).ok());
  EXPECT_FALSE(LooksLikeSeedSecret(AsBytes("-----BEGIN PRIVATE KEY-----")));
}

TEST(SeedSecretTest, KeyTypeNamesMapToCurves) {
  EXPECT_EQ(*CurveForKeyTypeName("secp256k1"), Curve::kSecp256k1);
  EXPECT_EQ(*CurveForKeyTypeName("p256"), Curve::kNist256p1);
  EXPECT_EQ(*CurveForKeyTypeName("ed25519"), Curve::kEd25519);
  EXPECT_FALSE(CurveForKeyTypeName("p521").ok());
  EXPECT_EQ(KeyTypeNameOfCurve(Curve::kNist256p1), "p256");
}

}  // namespace
}  // namespace lockout::hd
