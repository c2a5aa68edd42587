#include "src/attest/certificate.h"

#include <string>

#include "gtest/gtest.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/cert_authority.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"
#include "tests/attest/attest_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::attest {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z

TEST(AwsNitroRootTest, EmbeddedRootHasThePublishedFingerprint) {
  EXPECT_EQ(HexEncode(crypto::Sha256(AwsNitroRootG1Der())),
            "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
  absl::StatusOr<CertificateSummary> s = SummarizeCertificate(AwsNitroRootG1Der());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->subject, "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US");
  EXPECT_EQ(s->serial_hex, "F93175681B90AFE11D46CCB4E4E7F856");
  EXPECT_EQ(s->not_before, testing::Rfc3339("2019-10-28T13:28:05Z"));
  EXPECT_EQ(s->not_after, testing::Rfc3339("2049-10-28T14:28:05Z"));
}

TEST(AwsNitroRootTest, EmbeddedRootEqualsTheVectorFile) {
  LOCKOUT_VECTOR_OR_SKIP(path, "attestation/aws-nitro-enclaves-root-g1.pem");
  absl::StatusOr<std::string> pem = ReadFileString(path);
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(*pem, kAwsNitroRootG1Pem);
}

TEST(CertificateTest, PemRoundTripsAndReadsSeveralCertificates) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  absl::StatusOr<std::string> a = CertificateToPem(pki.root.certificate());
  absl::StatusOr<std::string> b = CertificateToPem(pki.intermediate.certificate());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->starts_with("-----BEGIN CERTIFICATE-----\n"));
  absl::StatusOr<std::vector<Bytes>> certs = CertificatesFromPem("comment line\n" + *a + "\n" + *b);
  ASSERT_TRUE(certs.ok()) << certs.status();
  EXPECT_EQ(*certs, (std::vector<Bytes>{pki.root.certificate(), pki.intermediate.certificate()}));
}

TEST(CertificateTest, PemWithoutCertificatesOrWithOtherBlocksIsRejected) {
  EXPECT_FALSE(CertificatesFromPem("").ok());
  EXPECT_FALSE(CertificatesFromPem("not pem at all").ok());
  EXPECT_FALSE(
      CertificatesFromPem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").ok());
  // A block that decodes but is not a certificate.
  EXPECT_FALSE(
      CertificatesFromPem("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n")
          .ok());
  testing::TestPki pki = testing::MakeTestPki(kNow);
  absl::StatusOr<SecretBytes> key = PrivateKeyToPem(pki.leaf.key.get());
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(CertificatesFromPem(key->RevealAsString()).ok());
}

TEST(CertificateTest, DerParsingIsStrict) {
  const Bytes& der = AwsNitroRootG1Der();
  EXPECT_TRUE(ParseCertificateDer(der).ok());
  Bytes longer = der;
  longer.push_back(0);
  EXPECT_FALSE(ParseCertificateDer(longer).ok());
  for (size_t len = 0; len < der.size(); ++len) {
    ASSERT_FALSE(ParseCertificateDer(ByteView(der.data(), len)).ok()) << len;
  }
}

TEST(CertificateTest, PrivateKeysRoundTripThroughPemAndDer) {
  absl::StatusOr<crypto::EvpPkeyPtr> key = GenerateP384Key();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<SecretBytes> pem = PrivateKeyToPem(key->get());
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(pem->RevealAsString().starts_with("-----BEGIN PRIVATE KEY-----"));
  absl::StatusOr<crypto::EvpPkeyPtr> from_pem = PrivateKeyFromPem(*pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_EQ(EVP_PKEY_eq(from_pem->get(), key->get()), 1);

  absl::StatusOr<SecretBytes> der = PrivateKeyToDer(key->get());
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(der->Reveal()[0], 0x30);
  absl::StatusOr<crypto::EvpPkeyPtr> from_der = PrivateKeyFromDer(*der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(EVP_PKEY_eq(from_der->get(), key->get()), 1);

  EXPECT_FALSE(PrivateKeyFromPem(SecretBytes::CopyFrom(std::string_view("garbage"))).ok());
  EXPECT_FALSE(PrivateKeyFromDer(SecretBytes::CopyFrom(std::string_view("garbage"))).ok());
}

TEST(CertificateTest, PublicKeyDerIsTheSubjectPublicKeyInfo) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  absl::StatusOr<Bytes> spki = PublicKeyToDer(pki.leaf.key.get());
  ASSERT_TRUE(spki.ok());
  // SEQUENCE { SEQUENCE { id-ecPublicKey, secp384r1 }, BIT STRING (97-byte point) }: 120 bytes.
  EXPECT_EQ(spki->size(), 120u);
  EXPECT_NE(testing::Find(pki.leaf.certificate, *spki), std::string::npos);
}

}  // namespace
}  // namespace lockout::attest
