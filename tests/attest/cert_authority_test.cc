#include "src/attest/cert_authority.h"

#include <openssl/x509v3.h>

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "src/attest/certificate.h"
#include "tests/attest/attest_test_util.h"

namespace lockout::attest {
namespace {

using testing::Options;

const absl::Time kNow = absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z

crypto::X509Ptr Parse(const Bytes& der) {
  absl::StatusOr<crypto::X509Ptr> c = ParseCertificateDer(der);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

TEST(CertAuthorityTest, RootIsASelfSignedCaWithTheGivenNameAndWindow) {
  absl::StatusOr<CertAuthority> root = CertAuthority::CreateRoot(
      Options("CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US", kNow, kNow + absl::Hours(24)));
  ASSERT_TRUE(root.ok()) << root.status();
  absl::StatusOr<CertificateSummary> s = SummarizeCertificate(root->certificate());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->subject, "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US");
  EXPECT_EQ(s->issuer, s->subject);
  EXPECT_EQ(s->not_before, kNow);
  EXPECT_EQ(s->not_after, kNow + absl::Hours(24));
  crypto::X509Ptr cert = Parse(root->certificate());
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_verify(cert.get(), root->key()), 1);
  EXPECT_TRUE(X509_get_extension_flags(cert.get()) & EXFLAG_SS);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA384);
}

TEST(CertAuthorityTest, IntermediateAndLeafChainToTheRoot) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  crypto::X509Ptr root = Parse(pki.root.certificate());
  crypto::X509Ptr inter = Parse(pki.intermediate.certificate());
  crypto::X509Ptr leaf = Parse(pki.leaf.certificate);
  EXPECT_EQ(X509_verify(inter.get(), pki.root.key()), 1);
  EXPECT_EQ(X509_verify(leaf.get(), pki.intermediate.key()), 1);
  EXPECT_NE(X509_verify(leaf.get(), pki.root.key()), 1);
  ERR_clear_error();
  EXPECT_EQ(X509_check_issued(root.get(), inter.get()), X509_V_OK);
  EXPECT_EQ(X509_check_issued(inter.get(), leaf.get()), X509_V_OK);
  EXPECT_EQ(X509_check_ca(inter.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), pki.leaf.key.get()), 1);
}

TEST(CertAuthorityTest, PathLengthIsWrittenForCaCertificatesOnly) {
  CertificateOptions o = Options("CN=root", kNow, kNow + absl::Hours(1));
  o.path_length = 2;
  absl::StatusOr<CertAuthority> root = CertAuthority::CreateRoot(o);
  ASSERT_TRUE(root.ok()) << root.status();
  crypto::X509Ptr cert = Parse(root->certificate());
  EXPECT_EQ(X509_get_pathlen(cert.get()), 2);
  EXPECT_FALSE(root->IssueLeaf(o).ok());
  o.path_length = -1;
  EXPECT_FALSE(CertAuthority::CreateRoot(o).ok());
}

TEST(CertAuthorityTest, SerialNumbersArePositiveAndDistinct) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  std::set<std::string> serials;
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<CertifiedKey> leaf =
        pki.intermediate.IssueLeaf(Options("CN=leaf", kNow, kNow + absl::Hours(1)));
    ASSERT_TRUE(leaf.ok());
    absl::StatusOr<CertificateSummary> s = SummarizeCertificate(leaf->certificate);
    ASSERT_TRUE(s.ok());
    EXPECT_NE(s->serial_hex[0], '-');
    serials.insert(s->serial_hex);
  }
  EXPECT_EQ(serials.size(), 8u);
}

TEST(CertAuthorityTest, RejectsBadNamesAndWindows) {
  for (const char* subject :
       {"", "CN", "CN=", "=x", "CN=a,,O=b", "XX=unknown", "CN=a+b", "CN=a\\,b"}) {
    EXPECT_EQ(
        CertAuthority::CreateRoot(Options(subject, kNow, kNow + absl::Hours(1))).status().code(),
        absl::StatusCode::kInvalidArgument)
        << subject;
  }
  EXPECT_EQ(CertAuthority::CreateRoot(Options("CN=x", kNow, kNow)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      CertAuthority::CreateRoot(Options("CN=x", kNow, kNow - absl::Seconds(1))).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(CertAuthorityTest, ReloadsFromExportedKeyAndCertificate) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  absl::StatusOr<SecretBytes> pem = PrivateKeyToPem(pki.intermediate.key());
  ASSERT_TRUE(pem.ok());
  absl::StatusOr<crypto::EvpPkeyPtr> key = PrivateKeyFromPem(*pem);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<CertAuthority> reloaded =
      CertAuthority::FromKeyAndCertificate(*std::move(key), pki.intermediate.certificate());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  absl::StatusOr<CertifiedKey> leaf =
      reloaded->IssueLeaf(Options("CN=again", kNow, kNow + absl::Hours(1)));
  ASSERT_TRUE(leaf.ok());
  crypto::X509Ptr cert = Parse(leaf->certificate);
  EXPECT_EQ(X509_verify(cert.get(), pki.intermediate.key()), 1);
}

TEST(CertAuthorityTest, RefusesAMismatchedKeyOrANonCaCertificate) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  absl::StatusOr<crypto::EvpPkeyPtr> stranger = GenerateP384Key();
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(
      CertAuthority::FromKeyAndCertificate(*std::move(stranger), pki.root.certificate()).ok());
  absl::StatusOr<SecretBytes> der = PrivateKeyToDer(pki.leaf.key.get());
  ASSERT_TRUE(der.ok());
  absl::StatusOr<crypto::EvpPkeyPtr> leaf_key = PrivateKeyFromDer(*der);
  ASSERT_TRUE(leaf_key.ok());
  EXPECT_FALSE(
      CertAuthority::FromKeyAndCertificate(*std::move(leaf_key), pki.leaf.certificate).ok());
}

}  // namespace
}  // namespace lockout::attest
