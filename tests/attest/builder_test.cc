#include "src/attest/builder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/attest/attest_error.h"
#include "src/attest/cert_authority.h"
#include "src/attest/verifier.h"
#include "src/common/cbor.h"
#include "src/common/encoding.h"
#include "tests/attest/attest_test_util.h"

namespace lockout::attest {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z

class BuilderTest : public ::testing::Test {
 protected:
  BuilderTest() : pki_(testing::MakeTestPki(kNow)), roots_{pki_.root.certificate()} {}
  testing::TestPki pki_;
  std::vector<Bytes> roots_;
};

TEST_F(BuilderTest, BuiltDocumentParsesToTheSameFieldsAndVerifies) {
  const AttestationDocument fields = testing::SampleFields(pki_, kNow);
  absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki_.leaf.key.get());
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<AttestationDocument> parsed = ParseAttestationDocument(*doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  AttestationDocument expected = fields;
  expected.cose = parsed->cose;
  EXPECT_EQ(*parsed, expected);

  absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(*doc, roots_, kNow);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->document.pcrs, fields.pcrs);
  EXPECT_EQ(v->document.public_key, fields.public_key);
  EXPECT_EQ(v->root_der, pki_.root.certificate());
}

TEST_F(BuilderTest, BuiltDocumentHasTheRealDocumentsShape) {
  AttestationDocument fields = testing::SampleFields(pki_, kNow);
  fields.public_key.reset();  // absent optionals are written as null, as the NSM does
  absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki_.leaf.key.get());
  ASSERT_TRUE(doc.ok()) << doc.status();
  // Untagged array of 4, protected bstr a1013822, empty unprotected map.
  EXPECT_EQ(HexEncode(ByteView(doc->data(), 7)), "8444a1013822a0");
  // 96-byte signature at the end: 58 60 <96 bytes>.
  EXPECT_EQ((*doc)[doc->size() - 98], 0x58);
  EXPECT_EQ((*doc)[doc->size() - 97], 0x60);

  absl::StatusOr<AttestationDocument> parsed = ParseAttestationDocument(*doc);
  ASSERT_TRUE(parsed.ok());
  absl::StatusOr<CborPtr> map = CborParse(parsed->cose.payload);
  ASSERT_TRUE(map.ok());
  std::vector<std::string> keys;
  for (size_t i = 0; i < cbor_map_size(map->get()); ++i) {
    keys.push_back(*CborGetText(cbor_map_handle(map->get())[i].key));
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"module_id", "digest", "timestamp", "pcrs", "certificate",
                                      "cabundle", "public_key", "user_data", "nonce"}));
  EXPECT_TRUE(CborIsNull(CborMapGet(map->get(), "public_key")));
  // PCRs in ascending index order with shortest-form keys.
  const cbor_item_t* pcrs = CborMapGet(map->get(), "pcrs");
  for (size_t i = 0; i < cbor_map_size(pcrs); ++i) {
    EXPECT_EQ(CborGetUint(cbor_map_handle(pcrs)[i].key), i);
  }
}

TEST_F(BuilderTest, BuiltDocumentIsRejectedOutsideTheLeafWindowAndAgainstAnotherRoot) {
  absl::StatusOr<Bytes> doc =
      BuildAttestationDocument(testing::SampleFields(pki_, kNow), pki_.leaf.key.get());
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(FailureOf(VerifyAttestationDocument(*doc, roots_, kNow + absl::Hours(4)).status()),
            AttestFailure::kCertExpired);
  EXPECT_EQ(FailureOf(VerifyAttestationDocument(*doc, roots_, kNow - absl::Hours(1)).status()),
            AttestFailure::kCertNotYetValid);
  testing::TestPki other = testing::MakeTestPki(kNow);
  std::vector<Bytes> other_roots = {other.root.certificate()};
  EXPECT_EQ(FailureOf(VerifyAttestationDocument(*doc, other_roots, kNow).status()),
            AttestFailure::kUntrustedRoot);
}

TEST_F(BuilderTest, BuiltDocumentSurvivesNoTruncation) {
  absl::StatusOr<Bytes> doc =
      BuildAttestationDocument(testing::SampleFields(pki_, kNow), pki_.leaf.key.get());
  ASSERT_TRUE(doc.ok());
  for (size_t len = 0; len < doc->size(); ++len) {
    absl::StatusOr<VerifiedAttestation> v =
        VerifyAttestationDocument(ByteView(doc->data(), len), roots_, kNow);
    ASSERT_EQ(FailureOf(v.status()), AttestFailure::kMalformed) << len;
  }
}

TEST_F(BuilderTest, RefusesAKeyThatIsNotTheCertificates) {
  absl::StatusOr<crypto::EvpPkeyPtr> stranger = GenerateP384Key();
  ASSERT_TRUE(stranger.ok());
  absl::StatusOr<Bytes> doc =
      BuildAttestationDocument(testing::SampleFields(pki_, kNow), stranger->get());
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(BuildAttestationDocument(testing::SampleFields(pki_, kNow), nullptr).ok());
}

TEST_F(BuilderTest, RefusesFieldsOutsideTheNsmRules) {
  AttestationDocument fields = testing::SampleFields(pki_, kNow);
  fields.pcrs[0] = Bytes(32, 0);
  EXPECT_EQ(FailureOf(BuildAttestationDocument(fields, pki_.leaf.key.get()).status()),
            AttestFailure::kBadField);
  fields = testing::SampleFields(pki_, kNow);
  fields.certificate = Bytes(200, 0x30);
  EXPECT_EQ(FailureOf(BuildAttestationDocument(fields, pki_.leaf.key.get()).status()),
            AttestFailure::kCertMalformed);
}

TEST_F(BuilderTest, DebugModeDocumentsWithAllZeroPcrsVerify) {
  AttestationDocument fields = testing::SampleFields(pki_, kNow);
  for (auto& [index, value] : fields.pcrs) value.assign(48, 0);
  fields.public_key.reset();
  fields.user_data.reset();
  fields.nonce.reset();
  absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki_.leaf.key.get());
  ASSERT_TRUE(doc.ok());
  absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(*doc, roots_, kNow);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->document.nonce.has_value());
}

}  // namespace
}  // namespace lockout::attest
