// Tests for src/crypto/rsa_key.h (named cms_* because they belong to the KMS envelope work).

#include "src/crypto/rsa_key.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::crypto {
namespace {

using ::testing::HasSubstr;

class RsaKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = GenerateRsa2048Key()->release(); }
  static void TearDownTestSuite() { EVP_PKEY_free(key_); }
  static EVP_PKEY* key_;
};
EVP_PKEY* RsaKeyTest::key_ = nullptr;

TEST_F(RsaKeyTest, GeneratedKeyIsRsa2048WithPublicExponent65537) {
  ASSERT_NE(key_, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key_, "RSA"));
  EXPECT_EQ(EVP_PKEY_get_bits(key_), 2048);
  BIGNUM* e = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key_, "e", &e), 1);
  EXPECT_EQ(BN_get_word(e), 65537u);
  BN_free(e);
  EXPECT_TRUE(CheckRsaRecipientKey(key_).ok());
}

TEST_F(RsaKeyTest, GeneratedKeyHasThreePrimesWhoseProductIsTheModulus) {
  auto get = [](const char* name) {
    BIGNUM* bn = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key_, name, &bn), 1) << name;
    return bn;
  };
  BIGNUM* n = get("n");
  BIGNUM* p = get("rsa-factor1");
  BIGNUM* q = get("rsa-factor2");
  BIGNUM* r = get("rsa-factor3");
  ASSERT_TRUE(n && p && q && r);
  BIGNUM* extra = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key_, "rsa-factor4", &extra), 0);
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM* product = BN_new();
  ASSERT_EQ(BN_mul(product, p, q, ctx), 1);
  ASSERT_EQ(BN_mul(product, product, r, ctx), 1);
  EXPECT_EQ(BN_cmp(product, n), 0);
  for (BIGNUM* f : {p, q, r}) EXPECT_GE(BN_num_bits(f), 680);
  for (BIGNUM* b : {n, p, q, r, product, extra}) BN_clear_free(b);
  BN_CTX_free(ctx);
}

TEST_F(RsaKeyTest, TwoGeneratedKeysDiffer) {
  absl::StatusOr<EvpPkeyPtr> other = GenerateRsa2048Key();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(EVP_PKEY_eq(key_, other->get()), 1);
}

TEST_F(RsaKeyTest, SpkiRoundTripGivesTheSamePublicKey) {
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }: 294 bytes.
  ASSERT_EQ(spki->size(), 294u);
  EXPECT_EQ((*spki)[0], 0x30);
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(*spki);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(EVP_PKEY_eq(key_, pub->get()), 1);
  // Re-export is byte-identical (DER is canonical).
  absl::StatusOr<Bytes> again = PublicKeyToSpkiDer(pub->get());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *spki);
}

TEST_F(RsaKeyTest, SpkiEveryTruncationAndTrailingByteAreRejected) {
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  for (size_t n = 0; n < spki->size(); ++n) {
    absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(ByteView(*spki).first(n));
    ASSERT_FALSE(pub.ok()) << n;
    EXPECT_EQ(pub.status().code(), absl::StatusCode::kInvalidArgument);
  }
  Bytes trailing = *spki;
  trailing.push_back(0);
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(trailing);
  ASSERT_FALSE(pub.ok());
  EXPECT_THAT(std::string(pub.status().message()), HasSubstr("trailing"));
}

TEST_F(RsaKeyTest, SpkiBitFlipsOutsideTheModulusAreAllRejected) {
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  // Bytes 0..28 are the SPKI / AlgorithmIdentifier / BIT STRING / RSAPublicKey / INTEGER headers
  // (including the rsaEncryption NULL parameters and the BIT STRING's unused-bits octet, which
  // OpenSSL alone would ignore) and the exponent's header follows the modulus: a flip there is
  // refused. A flip in the modulus or exponent value may give another valid key, never the same
  // one. (Every 8th modulus byte only: OpenSSL's decoder is slow under ASan.)
  const size_t modulus_begin = 29;
  const size_t exponent_header = spki->size() - 5;
  ASSERT_EQ(HexEncode(ByteView(*spki).subspan(exponent_header)), "0203010001");
  for (size_t i = 0; i < spki->size(); ++i) {
    const bool header = i < modulus_begin || i == exponent_header || i == exponent_header + 1;
    if (!header && i < exponent_header && i % 8 != 0) continue;
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = *spki;
      flipped[i] = static_cast<uint8_t>(flipped[i] ^ (1u << bit));
      absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(flipped);
      if (header) {
        EXPECT_FALSE(pub.ok()) << "byte " << i << " bit " << bit;
      } else if (pub.ok()) {
        EXPECT_NE(EVP_PKEY_eq(key_, pub->get()), 1) << "byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(RsaKeyParseTest, SpkiOfOtherKeyTypesAndSizesIsRejected) {
  EvpPkeyPtr ec(EVP_EC_gen("P-256"));
  EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_NE(ec, nullptr);
  ASSERT_NE(small, nullptr);
  absl::StatusOr<Bytes> ec_spki = PublicKeyToSpkiDer(ec.get());
  absl::StatusOr<Bytes> small_spki = PublicKeyToSpkiDer(small.get());
  ASSERT_TRUE(ec_spki.ok() && small_spki.ok());
  EXPECT_THAT(std::string(RsaPublicKeyFromSpkiDer(*ec_spki).status().message()),
              HasSubstr("not an RSA key"));
  EXPECT_THAT(std::string(RsaPublicKeyFromSpkiDer(*small_spki).status().message()),
              HasSubstr("1024 bits"));
}

TEST(RsaKeyParseTest, SpkiEmptyOversizedAndGarbageAreRejected) {
  EXPECT_FALSE(RsaPublicKeyFromSpkiDer({}).ok());
  EXPECT_FALSE(RsaPublicKeyFromSpkiDer(Bytes(4096, 0x30)).ok());
  EXPECT_FALSE(RsaPublicKeyFromSpkiDer(AsBytes("my super secret key")).ok());
}

TEST(RsaKeyParseTest, NullKeysAreRejected) {
  EXPECT_EQ(PublicKeyToSpkiDer(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaPrivateKeyToPkcs8Der(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRsaRecipientKey(nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RsaKeyTest, Pkcs8RoundTripGivesTheSameKey) {
  absl::StatusOr<SecretBytes> der = RsaPrivateKeyToPkcs8Der(key_);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_GT(der->size(), 1000u);
  absl::StatusOr<EvpPkeyPtr> back = RsaPrivateKeyFromPkcs8Der(der->Reveal());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EVP_PKEY_eq(key_, back->get()), 1);
  // The round-tripped key really has the private half: it re-exports to the same bytes.
  absl::StatusOr<SecretBytes> again = RsaPrivateKeyToPkcs8Der(back->get());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Equals(*der));
}

TEST_F(RsaKeyTest, Pkcs8ExportOfAPublicOnlyKeyFails) {
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(*spki);
  ASSERT_TRUE(pub.ok());
  absl::StatusOr<SecretBytes> der = RsaPrivateKeyToPkcs8Der(pub->get());
  ASSERT_FALSE(der.ok());
  EXPECT_EQ(der.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RsaKeyTest, Pkcs8EveryTruncationAndTrailingByteAreRejected) {
  absl::StatusOr<SecretBytes> der = RsaPrivateKeyToPkcs8Der(key_);
  ASSERT_TRUE(der.ok());
  for (size_t n = 0; n < der->size(); ++n) {
    absl::StatusOr<EvpPkeyPtr> k = RsaPrivateKeyFromPkcs8Der(der->Reveal().first(n));
    ASSERT_FALSE(k.ok()) << n;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  }
  Bytes trailing(der->Reveal().begin(), der->Reveal().end());
  trailing.push_back(0);
  EXPECT_FALSE(RsaPrivateKeyFromPkcs8Der(trailing).ok());
  WipeBytes(trailing);
}

TEST(RsaKeyParseTest, Pkcs8OfAnEcKeyIsRejected) {
  EvpPkeyPtr ec(EVP_EC_gen("P-256"));
  ASSERT_NE(ec, nullptr);
  EXPECT_EQ(RsaPrivateKeyToPkcs8Der(ec.get()).status().code(), absl::StatusCode::kInvalidArgument);
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(ec.get());
  ASSERT_NE(info, nullptr);
  int len = i2d_PKCS8_PRIV_KEY_INFO(info, nullptr);
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_PKCS8_PRIV_KEY_INFO(info, &out);
  PKCS8_PRIV_KEY_INFO_free(info);
  absl::StatusOr<EvpPkeyPtr> k = RsaPrivateKeyFromPkcs8Der(der);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("not an RSA key"));
  WipeBytes(der);
}

}  // namespace
}  // namespace lockout::crypto
