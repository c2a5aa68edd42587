#include "src/eif/eif_signature.h"

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

using ::testing::HasSubstr;

Bytes TestCert() { return testing::ReadTestFile(testing::TestDataPath("eif/signing-cert.pem")); }
SecretBytes TestKey() {
  Bytes k = testing::ReadTestFile(testing::TestDataPath("eif/signing-key.pem"));
  SecretBytes s = SecretBytes::CopyFrom(k);
  WipeBytes(k);
  return s;
}

crypto::Sha384Digest SomePcr(uint8_t fill) {
  crypto::Sha384Digest d;
  d.fill(fill);
  return d;
}

TEST(EifSignatureTest, PcrInfoIsEncodedAsSerdeCborWritesIt) {
  crypto::Sha384Digest pcr{};
  pcr[0] = 0x17;  // < 24: one byte
  pcr[1] = 0x18;  // >= 24: 0x18 prefix
  pcr[2] = 0xFF;
  const Bytes enc = EncodePcrInfo(0, pcr);
  // {"register_index": 0, "register_value": [0x17, 0x18, 0xff, 0, ...]}
  EXPECT_EQ(HexEncode(ByteView(enc).subspan(0, 39)),
            "a26e72656769737465725f696e646578006e72656769737465725f76616c7565983017181818ff");
  EXPECT_EQ(enc.size(), 39u + 45u);  // 45 more zero bytes, one byte each
  // Negative indices use CBOR major type 1, shortest form (-1 is 0x20).
  EXPECT_EQ(EncodePcrInfo(-1, {})[16], 0x20);
}

TEST(EifSignatureTest, SignedPcr0VerifiesAndOnlyForThatPcr0) {
  absl::StatusOr<PcrSignature> sig = SignPcr0(SomePcr(1), TestCert(), TestKey());
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->signing_certificate, TestCert());
  EXPECT_EQ(VerifyPcr0Signature(*sig, SomePcr(1)).value_or(false), true);
  absl::StatusOr<bool> other = VerifyPcr0Signature(*sig, SomePcr(2));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
}

TEST(EifSignatureTest, TamperedSignatureBytesDoNotVerify) {
  absl::StatusOr<PcrSignature> sig = SignPcr0(SomePcr(1), TestCert(), TestKey());
  ASSERT_TRUE(sig.ok());
  // The raw r||s is the last 96 bytes of the COSE_Sign1.
  for (size_t back : {1u, 48u, 96u}) {
    PcrSignature bad = *sig;
    bad.signature[bad.signature.size() - back] ^= 0x01;
    absl::StatusOr<bool> ok = VerifyPcr0Signature(bad, SomePcr(1));
    ASSERT_TRUE(ok.ok()) << ok.status();
    EXPECT_FALSE(*ok) << back;
  }
}

TEST(EifSignatureTest, MalformedCoseIsAnError) {
  PcrSignature bad;
  bad.signing_certificate = TestCert();
  bad.signature = ToBytes("nope");
  EXPECT_FALSE(VerifyPcr0Signature(bad, SomePcr(1)).ok());
  bad.signature = {0x83, 0x40, 0xa0, 0x40};  // 3 items
  EXPECT_FALSE(VerifyPcr0Signature(bad, SomePcr(1)).ok());
  bad.signature = {0x84, 0x43, 0xa1, 0x01, 0x01, 0xa0, 0x40, 0x40};  // alg 1 is not ECDSA
  EXPECT_THAT(VerifyPcr0Signature(bad, SomePcr(1)).status().message(),
              HasSubstr("not ES256, ES384 or ES512"));
}

TEST(EifSignatureTest, SectionRoundTripsAndUsesIntegerArrays) {
  PcrSignature e;
  e.signing_certificate = ToBytes("cert");
  e.signature = {0, 23, 24, 255};
  absl::StatusOr<Bytes> enc = EncodeSignatureSection({e, e});
  ASSERT_TRUE(enc.ok());
  // [ {"signing_certificate": [0x63, 0x65, 0x72, 0x74], ...
  EXPECT_EQ(HexEncode(ByteView(*enc).subspan(0, 27)),
            "82a2737369676e696e675f63657274696669636174658418631865");
  absl::StatusOr<std::vector<PcrSignature>> dec = ParseSignatureSection(*enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  ASSERT_EQ(dec->size(), 2u);
  EXPECT_EQ((*dec)[1].signature, e.signature);
  EXPECT_EQ((*dec)[0].signing_certificate, e.signing_certificate);
}

TEST(EifSignatureTest, SectionParserRejectsWrongShapes) {
  auto section = [](std::vector<uint8_t> entry_map) {
    Bytes b = {0x81};
    b.insert(b.end(), entry_map.begin(), entry_map.end());
    return b;
  };
  const Bytes cert_key = {0x73, 's', 'i', 'g', 'n', 'i', 'n', 'g', '_', 'c',
                          'e',  'r', 't', 'i', 'f', 'i', 'c', 'a', 't', 'e'};
  const Bytes sig_key = {0x69, 's', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e'};
  auto map2 = [&](Bytes cert_value, Bytes sig_value) {
    Bytes m = {0xa2};
    m.insert(m.end(), cert_key.begin(), cert_key.end());
    m.insert(m.end(), cert_value.begin(), cert_value.end());
    m.insert(m.end(), sig_key.begin(), sig_key.end());
    m.insert(m.end(), sig_value.begin(), sig_value.end());
    return m;
  };
  EXPECT_TRUE(ParseSignatureSection(section(map2({0x80}, {0x80}))).ok());
  EXPECT_THAT(
      ParseSignatureSection(section(map2({0x81, 0x19, 0x01, 0x00}, {0x80}))).status().message(),
      HasSubstr("signing_certificate[0] is not an integer 0..255"));
  EXPECT_FALSE(ParseSignatureSection(section(map2({0x81, 0x20}, {0x80}))).ok());  // -1
  EXPECT_FALSE(ParseSignatureSection(section(map2({0x80}, {0x60}))).ok());        // text
  EXPECT_FALSE(ParseSignatureSection(section({0xa1, 0x60, 0x80})).ok());          // 1 key
  EXPECT_FALSE(ParseSignatureSection({0x80}).ok());                               // empty
  EXPECT_FALSE(ParseSignatureSection({0xa0}).ok());                               // map
  EXPECT_FALSE(ParseSignatureSection(Bytes(kMaxSignatureSectionSize + 1, 0x80)).ok());
  const Bytes good = section(map2({0x80}, {0x80}));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseSignatureSection(ByteView(good).subspan(0, n)).ok()) << n;
  }
}

TEST(EifSignatureTest, CertificateDerIsThePemBody) {
  const Bytes pem = TestCert();
  std::string body;
  for (absl::string_view line : absl::StrSplit(ToString(pem), '\n')) {
    if (!line.empty() && line[0] != '-') body += std::string(line);
  }
  absl::StatusOr<Bytes> expected = Base64Decode(body);
  ASSERT_TRUE(expected.ok());
  absl::StatusOr<Bytes> der = CertificatePemToDer(pem);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, *expected);
  absl::StatusOr<crypto::Sha384Digest> pcr8 = Pcr8FromCertificatePem(pem);
  ASSERT_TRUE(pcr8.ok());
  EXPECT_EQ(HexEncode(*pcr8), testutil::IndependentPcrHex({*expected}));
  EXPECT_FALSE(CertificatePemToDer(ToBytes("-----BEGIN CERTIFICATE-----\n")).ok());
}

TEST(EifSignatureTest, SigningRejectsUnusableKeys) {
  EXPECT_FALSE(SignPcr0(SomePcr(1), TestCert(), SecretBytes::CopyFrom("not a key")).ok());
  EXPECT_FALSE(SignPcr0(SomePcr(1), ToBytes("not a cert"), TestKey()).ok());
}

}  // namespace
}  // namespace lockout::eif
