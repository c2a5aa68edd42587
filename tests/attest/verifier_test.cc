#include "src/attest/verifier.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/attest/attest_error.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/builder.h"
#include "src/attest/cert_authority.h"
#include "src/attest/certificate.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "tests/attest/attest_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::attest {
namespace {

using testing::FlipBit;
using testing::RealDocument;

class RealDocumentVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOCKOUT_VECTOR_OR_SKIP(index, "attestation/index.json");
    LOCKOUT_VECTOR_OR_SKIP(root_path, "attestation/aws-nitro-enclaves-root-g1.pem");
    testing::LoadRealDocuments(index, &docs_);
    absl::StatusOr<std::string> pem = ReadFileString(root_path);
    ASSERT_TRUE(pem.ok());
    absl::StatusOr<std::vector<Bytes>> roots = CertificatesFromPem(*pem);
    ASSERT_TRUE(roots.ok()) << roots.status();
    roots_ = *roots;
  }

  std::optional<AttestFailure> Failure(const Bytes& bytes, absl::Time at) {
    absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(bytes, roots_, at);
    EXPECT_FALSE(v.ok()) << "verified";
    return v.ok() ? std::nullopt : FailureOf(v.status());
  }

  std::vector<RealDocument> docs_;
  std::vector<Bytes> roots_;
};

TEST_F(RealDocumentVerifyTest, EveryRealDocumentVerifiesInsideItsWindow) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    // OpenSSL counts notAfter itself as expired (X509_cmp_time), so the last second is end - 1s.
    for (absl::Time at : {real.timestamp, real.window_start, real.window_end - absl::Seconds(1)}) {
      absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(real.bytes, roots_, at);
      ASSERT_TRUE(v.ok()) << v.status() << " at " << at;
      EXPECT_EQ(v->root_der, roots_[0]);
      EXPECT_EQ(HexEncode(v->document.pcrs.at(0)), real.facts["pcrs"]["0"].get<std::string>());
      EXPECT_EQ(v->document.pcrs.size(), 16u);
    }
  }
}

TEST_F(RealDocumentVerifyTest, TheVectorRootIsTheEmbeddedAwsRoot) {
  ASSERT_EQ(roots_.size(), 1u);
  EXPECT_EQ(roots_[0], AwsNitroRootG1Der());
  std::vector<Bytes> embedded = {AwsNitroRootG1Der()};
  EXPECT_TRUE(VerifyAttestationDocument(docs_[1].bytes, embedded, docs_[1].timestamp).ok());
}

TEST_F(RealDocumentVerifyTest, EveryRealDocumentIsRejectedOutsideItsWindow) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    EXPECT_EQ(Failure(real.bytes, real.window_start - absl::Seconds(1)),
              AttestFailure::kCertNotYetValid);
    EXPECT_EQ(Failure(real.bytes, real.window_end + absl::Seconds(1)), AttestFailure::kCertExpired);
    EXPECT_EQ(Failure(real.bytes, real.window_end + absl::Hours(24 * 365)),
              AttestFailure::kCertExpired);
    EXPECT_EQ(Failure(real.bytes, testing::Rfc3339("2021-01-01T00:00:00Z")),
              AttestFailure::kCertNotYetValid);
  }
}

TEST_F(RealDocumentVerifyTest, EveryRealDocumentIsRejectedAgainstAnotherRoot) {
  // A different P-384 root, once with its own name and once impersonating the AWS root's name.
  for (const char* subject : {"CN=local.nitro-enclaves,OU=Lockout,O=Test,C=US",
                              "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"}) {
    SCOPED_TRACE(subject);
    absl::StatusOr<CertAuthority> other = CertAuthority::CreateRoot(
        testing::Options(subject, testing::Rfc3339("2019-01-01T00:00:00Z"),
                         testing::Rfc3339("2049-01-01T00:00:00Z")));
    ASSERT_TRUE(other.ok()) << other.status();
    std::vector<Bytes> roots = {other->certificate()};
    for (const RealDocument& real : docs_) {
      SCOPED_TRACE(real.file);
      absl::StatusOr<VerifiedAttestation> v =
          VerifyAttestationDocument(real.bytes, roots, real.timestamp);
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(FailureOf(v.status()), AttestFailure::kUntrustedRoot) << v.status();
    }
  }
}

TEST_F(RealDocumentVerifyTest, VerifiesWhenTheAwsRootIsOneOfSeveralTrustedRoots) {
  absl::StatusOr<CertAuthority> other = CertAuthority::CreateRoot(
      testing::Options("CN=local-root", testing::Rfc3339("2019-01-01T00:00:00Z"),
                       testing::Rfc3339("2049-01-01T00:00:00Z")));
  ASSERT_TRUE(other.ok());
  std::vector<Bytes> roots = {other->certificate(), roots_[0]};
  absl::StatusOr<VerifiedAttestation> v =
      VerifyAttestationDocument(docs_[0].bytes, roots, docs_[0].timestamp);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->root_der, roots_[0]);
}

TEST_F(RealDocumentVerifyTest, AFlippedBitInThePayloadBreaksTheSignature) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(real.bytes);
    ASSERT_TRUE(doc.ok());
    // In PCR4 (non-zero in every document), in module_id, and in the timestamp.
    size_t pcr = testing::Find(real.bytes, doc->pcrs.at(4));
    EXPECT_EQ(Failure(FlipBit(real.bytes, pcr + 7, 3), real.timestamp),
              AttestFailure::kSignatureInvalid);
    size_t module = testing::Find(real.bytes, AsBytes(doc->module_id));
    EXPECT_EQ(Failure(FlipBit(real.bytes, module + 5, 0), real.timestamp),
              AttestFailure::kSignatureInvalid);
    size_t ts = testing::Find(real.bytes, AsBytes("timestamp"));
    EXPECT_EQ(Failure(FlipBit(real.bytes, ts + 9 + 8, 0), real.timestamp),
              AttestFailure::kSignatureInvalid);
  }
}

TEST_F(RealDocumentVerifyTest, AFlippedBitInTheSignatureIsRejected) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    const size_t sig = real.bytes.size() - kSignatureSize;
    for (size_t offset : {sig, sig + 47, sig + 48, real.bytes.size() - 1}) {
      EXPECT_EQ(Failure(FlipBit(real.bytes, offset, 0), real.timestamp),
                AttestFailure::kSignatureInvalid)
          << offset;
    }
  }
}

TEST_F(RealDocumentVerifyTest, AFlippedBitInACertificateIsRejected) {
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(real.bytes);
    ASSERT_TRUE(doc.ok());
    // The last byte of a DER certificate is inside its ECDSA signature value.
    auto last_byte_of = [&](const Bytes& cert) {
      return testing::Find(real.bytes, cert) + cert.size() - 1;
    };
    EXPECT_EQ(Failure(FlipBit(real.bytes, last_byte_of(doc->certificate)), real.timestamp),
              AttestFailure::kBadCertSignature);
    for (size_t i = 1; i < doc->cabundle.size(); ++i) {
      EXPECT_EQ(Failure(FlipBit(real.bytes, last_byte_of(doc->cabundle[i])), real.timestamp),
                AttestFailure::kBadCertSignature)
          << "cabundle[" << i << "]";
    }
    // The bundled copy of the root is not what the verifier trusts.
    EXPECT_EQ(Failure(FlipBit(real.bytes, last_byte_of(doc->cabundle[0])), real.timestamp),
              AttestFailure::kUntrustedRoot);
    // Inside the signed part of the leaf: one letter of its subject.
    size_t subject = testing::Find(doc->certificate, AsBytes(doc->module_id));
    size_t leaf = testing::Find(real.bytes, doc->certificate);
    EXPECT_EQ(Failure(FlipBit(real.bytes, leaf + subject + 2, 0), real.timestamp),
              AttestFailure::kBadCertSignature);
  }
}

TEST_F(RealDocumentVerifyTest, NoSingleByteCorruptionVerifies) {
  // Every 97th byte of each document (about 140 corruptions; each costs a chain verification).
  for (const RealDocument& real : docs_) {
    SCOPED_TRACE(real.file);
    for (size_t offset = 0; offset < real.bytes.size(); offset += 97) {
      Bytes corrupt = real.bytes;
      corrupt[offset] = static_cast<uint8_t>(~corrupt[offset]);
      absl::StatusOr<VerifiedAttestation> v =
          VerifyAttestationDocument(corrupt, roots_, real.timestamp);
      ASSERT_FALSE(v.ok()) << "offset " << offset << " verified";
      ASSERT_TRUE(FailureOf(v.status()).has_value()) << v.status();
    }
  }
}

TEST_F(RealDocumentVerifyTest, FieldsChangedAfterParsingAreNotTrusted) {
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(docs_[1].bytes);
  ASSERT_TRUE(doc.ok());
  doc->pcrs[0] = Bytes(48, 0);
  absl::StatusOr<VerifiedAttestation> v = VerifyAttestation(*doc, roots_, docs_[1].timestamp);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kMalformed);
}

TEST_F(RealDocumentVerifyTest, AnUnparsedDocumentIsNotVerified) {
  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(docs_[1].bytes);
  ASSERT_TRUE(doc.ok());
  doc->cose = CoseSign1();
  absl::StatusOr<VerifiedAttestation> v = VerifyAttestation(*doc, roots_, docs_[1].timestamp);
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kMalformed);
}

TEST_F(RealDocumentVerifyTest, RequiresAtLeastOneRootThatIsACertificate) {
  std::vector<Bytes> none;
  absl::StatusOr<VerifiedAttestation> v =
      VerifyAttestationDocument(docs_[0].bytes, none, docs_[0].timestamp);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(FailureOf(v.status()).has_value());
  std::vector<Bytes> junk = {Bytes(100, 0x30)};
  v = VerifyAttestationDocument(docs_[0].bytes, junk, docs_[0].timestamp);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Generated chains -----------------------------------------------------------------------

const absl::Time kNow = absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z

TEST(VerifierTest, RejectsACabundleOutOfOrder) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  AttestationDocument fields = testing::SampleFields(pki, kNow);
  std::swap(fields.cabundle[0], fields.cabundle[1]);
  absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki.leaf.key.get());
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::vector<Bytes> roots = {pki.root.certificate()};
  absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(*doc, roots, kNow);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kChainInvalid) << v.status();
}

TEST(VerifierTest, RejectsACabundleWithoutTheIntermediate) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  AttestationDocument fields = testing::SampleFields(pki, kNow);
  fields.cabundle.pop_back();
  absl::StatusOr<Bytes> doc = BuildAttestationDocument(fields, pki.leaf.key.get());
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::vector<Bytes> roots = {pki.root.certificate()};
  absl::StatusOr<VerifiedAttestation> v = VerifyAttestationDocument(*doc, roots, kNow);
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kUntrustedRoot) << v.status();
}

TEST(VerifierTest, RejectsALeafThatIsNotP384) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256"), 1);
  ASSERT_EQ(EVP_PKEY_generate(ctx.get(), &raw), 1);
  crypto::EvpPkeyPtr p256(raw);
  absl::StatusOr<Bytes> leaf = pki.intermediate.IssueLeafForKey(
      p256.get(), testing::Options("CN=p256", kNow - absl::Hours(1), kNow + absl::Hours(1)));
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  AttestationDocument fields = testing::SampleFields(pki, kNow);
  fields.certificate = *leaf;
  CoseSign1 cose{Es384ProtectedHeader(), EncodeAttestationPayload(fields),
                 Bytes(kSignatureSize, 1)};
  std::vector<Bytes> roots = {pki.root.certificate()};
  absl::StatusOr<VerifiedAttestation> v =
      VerifyAttestationDocument(EncodeCoseSign1(cose), roots, kNow);
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kChainInvalid) << v.status();
}

TEST(VerifierTest, RejectsACertificateThatIsNotDer) {
  testing::TestPki pki = testing::MakeTestPki(kNow);
  AttestationDocument fields = testing::SampleFields(pki, kNow);
  fields.cabundle[1] = Bytes(300, 0x30);
  CoseSign1 cose{Es384ProtectedHeader(), EncodeAttestationPayload(fields),
                 Bytes(kSignatureSize, 1)};
  std::vector<Bytes> roots = {pki.root.certificate()};
  absl::StatusOr<VerifiedAttestation> v =
      VerifyAttestationDocument(EncodeCoseSign1(cose), roots, kNow);
  EXPECT_EQ(FailureOf(v.status()), AttestFailure::kCertMalformed) << v.status();
}

}  // namespace
}  // namespace lockout::attest
