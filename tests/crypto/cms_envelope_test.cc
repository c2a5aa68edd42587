#include "src/crypto/cms_envelope.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"
#include "tests/testing/vectors.h"

namespace lockout::crypto {
namespace {

using ::testing::HasSubstr;

// ------------------------------------------------------------------------------------------
// Real KMS envelopes (aws-nitro-enclaves-sdk-c test data; see shared/vectors/SOURCES.md).
// ------------------------------------------------------------------------------------------

struct ExpectedSample {
  std::string file;
  std::string encrypted_key_hex;
  std::string iv_hex;
  std::string ciphertext_hex;
  size_t ciphertext_len = 0;
};

std::vector<ExpectedSample> ReadExpected(const std::string& path) {
  Bytes raw = testing::ReadTestFile(path);
  nlohmann::json j = nlohmann::json::parse(raw.begin(), raw.end());
  std::vector<ExpectedSample> out;
  for (const auto& s : j.at("samples")) {
    out.push_back({s.at("file").get<std::string>(), s.at("encrypted_key_hex").get<std::string>(),
                   s.at("iv_hex").get<std::string>(), s.at("ciphertext_hex").get<std::string>(),
                   s.at("ciphertext_len").get<size_t>()});
  }
  return out;
}

class RealKmsEnvelopeTest : public ::testing::TestWithParam<int> {};

TEST_P(RealKmsEnvelopeTest, ParsesToExactlyTheExpectedKeyIvAndCiphertext) {
  LOCKOUT_VECTOR_OR_SKIP(expected_path, "kms/sdk-c-cms-expected.json");
  std::vector<ExpectedSample> samples = ReadExpected(expected_path);
  ASSERT_EQ(samples.size(), 2u);
  const ExpectedSample& want = samples[static_cast<size_t>(GetParam())];
  LOCKOUT_VECTOR_OR_SKIP(envelope_path, "kms/" + want.file);
  Bytes ber = testing::ReadTestFile(envelope_path);

  absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(ber);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(HexEncode(env->encrypted_key), want.encrypted_key_hex);
  EXPECT_EQ(HexEncode(env->iv), want.iv_hex);
  EXPECT_EQ(HexEncode(env->ciphertext), want.ciphertext_hex);
  EXPECT_EQ(env->ciphertext.size(), want.ciphertext_len);
  EXPECT_EQ(env->key_encryption_oid, kOidRsaesOaep);
  EXPECT_EQ(env->oaep_hash_oid, kOidSha256);
  EXPECT_EQ(env->mgf_oid, kOidMgf1);
  EXPECT_EQ(env->mgf_hash_oid, kOidSha256);
  EXPECT_EQ(env->content_type_oid, kOidData);
  EXPECT_EQ(env->content_encryption_oid, kOidAes256Cbc);
  EXPECT_EQ(env->recipient_key_id.size(), 32u);
  EXPECT_EQ(env->encrypted_key.size(), 256u);  // RSA-2048
}

TEST_P(RealKmsEnvelopeTest, EveryTruncationIsACleanError) {
  LOCKOUT_VECTOR_OR_SKIP(expected_path, "kms/sdk-c-cms-expected.json");
  const ExpectedSample want = ReadExpected(expected_path)[static_cast<size_t>(GetParam())];
  LOCKOUT_VECTOR_OR_SKIP(envelope_path, "kms/" + want.file);
  Bytes ber = testing::ReadTestFile(envelope_path);
  ASSERT_FALSE(ber.empty());
  for (size_t n = 0; n < ber.size(); ++n) {
    absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(ByteView(ber).first(n));
    ASSERT_FALSE(env.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument) << n;
    EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty at " << n;
  }
}

// Every single-bit flip either breaks the structure (clean error), or lands in a payload field
// (key id, encrypted key, IV, ciphertext) and changes exactly that one bit of the parsed result,
// or, in a few header octets, is tolerated by OpenSSL's BER decoder with no effect on any field
// (it ignores the constructed bit of a SET OF and the tags of the segments of a constructed
// OCTET STRING). No flip may change a field in any other way.
TEST_P(RealKmsEnvelopeTest, EveryBitFlipIsACleanErrorOrChangesExactlyOnePayloadBit) {
  LOCKOUT_VECTOR_OR_SKIP(expected_path, "kms/sdk-c-cms-expected.json");
  const ExpectedSample want = ReadExpected(expected_path)[static_cast<size_t>(GetParam())];
  LOCKOUT_VECTOR_OR_SKIP(envelope_path, "kms/" + want.file);
  Bytes ber = testing::ReadTestFile(envelope_path);
  absl::StatusOr<KmsEnvelope> original = ParseKmsEnvelope(ber);
  ASSERT_TRUE(original.ok()) << original.status();
  auto payload = [](const KmsEnvelope& e) {
    Bytes all = e.recipient_key_id;
    all.insert(all.end(), e.encrypted_key.begin(), e.encrypted_key.end());
    all.insert(all.end(), e.iv.begin(), e.iv.end());
    all.insert(all.end(), e.ciphertext.begin(), e.ciphertext.end());
    return all;
  };
  const Bytes original_payload = payload(*original);
  size_t changed_one_bit = 0;
  size_t tolerated = 0;
  size_t rejected = 0;
  for (size_t i = 0; i < ber.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = ber;
      flipped[i] = static_cast<uint8_t>(flipped[i] ^ (1u << bit));
      absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(flipped);
      EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left non-empty";
      if (!env.ok()) {
        EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
        ++rejected;
        continue;
      }
      Bytes got = payload(*env);
      ASSERT_EQ(got.size(), original_payload.size()) << "byte " << i << " bit " << bit;
      int differing_bits = 0;
      for (size_t k = 0; k < got.size(); ++k) {
        differing_bits += std::popcount(static_cast<unsigned>(got[k] ^ original_payload[k]));
      }
      EXPECT_LE(differing_bits, 1) << "byte " << i << " bit " << bit;
      if (differing_bits == 1) {
        ++changed_one_bit;
      } else {
        ++tolerated;
      }
    }
  }
  // Every payload bit is reported faithfully; nearly every structural bit is refused.
  EXPECT_EQ(changed_one_bit, original_payload.size() * 8);
  EXPECT_EQ(rejected + tolerated, (ber.size() - original_payload.size()) * 8);
  EXPECT_LE(tolerated, 8u);
}

TEST_P(RealKmsEnvelopeTest, TrailingBytesAreRejected) {
  LOCKOUT_VECTOR_OR_SKIP(expected_path, "kms/sdk-c-cms-expected.json");
  const ExpectedSample want = ReadExpected(expected_path)[static_cast<size_t>(GetParam())];
  LOCKOUT_VECTOR_OR_SKIP(envelope_path, "kms/" + want.file);
  Bytes ber = testing::ReadTestFile(envelope_path);
  ber.push_back(0x00);
  absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(ber);
  ASSERT_FALSE(env.ok());
  EXPECT_THAT(std::string(env.status().message()), HasSubstr("trailing"));
}

TEST_P(RealKmsEnvelopeTest, DecryptingWithAFreshKeyFailsAsNotForThisKey) {
  LOCKOUT_VECTOR_OR_SKIP(expected_path, "kms/sdk-c-cms-expected.json");
  const ExpectedSample want = ReadExpected(expected_path)[static_cast<size_t>(GetParam())];
  LOCKOUT_VECTOR_OR_SKIP(envelope_path, "kms/" + want.file);
  Bytes ber = testing::ReadTestFile(envelope_path);
  absl::StatusOr<EvpPkeyPtr> key = GenerateRsa2048Key();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<SecretBytes> plaintext = DecryptKmsEnvelope(key->get(), ber);
  ASSERT_FALSE(plaintext.ok());
  EXPECT_EQ(plaintext.status().code(), absl::StatusCode::kPermissionDenied);
}

INSTANTIATE_TEST_SUITE_P(BothSdkSamples, RealKmsEnvelopeTest, ::testing::Values(0, 1));

// ------------------------------------------------------------------------------------------
// Envelopes we build.
// ------------------------------------------------------------------------------------------

class CmsEnvelopeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = GenerateRsa2048Key()->release();
    other_key_ = GenerateRsa2048Key()->release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(key_);
    EVP_PKEY_free(other_key_);
  }
  static EVP_PKEY* key_;
  static EVP_PKEY* other_key_;
};
EVP_PKEY* CmsEnvelopeTest::key_ = nullptr;
EVP_PKEY* CmsEnvelopeTest::other_key_ = nullptr;

SecretBytes PatternPlaintext(size_t n) {
  SecretBytes s(n);
  absl::Span<uint8_t> b = s.RevealMutable();
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return s;
}

TEST_F(CmsEnvelopeTest, BuiltEnvelopeHasTheKmsShape) {
  SecretBytes plaintext = PatternPlaintext(100);
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, plaintext.Reveal());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(*der);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->key_encryption_oid, kOidRsaesOaep);
  EXPECT_EQ(env->oaep_hash_oid, kOidSha256);
  EXPECT_EQ(env->mgf_oid, kOidMgf1);
  EXPECT_EQ(env->mgf_hash_oid, kOidSha256);
  EXPECT_EQ(env->content_type_oid, kOidData);
  EXPECT_EQ(env->content_encryption_oid, kOidAes256Cbc);
  EXPECT_EQ(env->iv.size(), 16u);
  EXPECT_EQ(env->encrypted_key.size(), 256u);
  EXPECT_EQ(env->ciphertext.size(), 112u);  // 100 bytes + PKCS#7 padding to 7 blocks
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  Sha256Digest want_id = Sha256(*spki);
  EXPECT_EQ(env->recipient_key_id, Bytes(want_id.begin(), want_id.end()));

  // Cross-check with OpenSSL's own view: one key-transport recipient.
  const unsigned char* p = der->data();
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der->size())));
  ASSERT_NE(cms, nullptr);
  EXPECT_EQ(OBJ_obj2nid(CMS_get0_type(cms.get())), NID_pkcs7_enveloped);
  ASSERT_EQ(sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms.get())), 1);
  EXPECT_EQ(
      CMS_RecipientInfo_type(sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms.get()), 0)),
      CMS_RECIPINFO_TRANS);
}

TEST_F(CmsEnvelopeTest, BuildThenDecryptRoundTripsEverySize) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4096},
                   kMaxKmsEnvelopePlaintextSize}) {
    SecretBytes plaintext = PatternPlaintext(n);
    absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, plaintext.Reveal());
    ASSERT_TRUE(der.ok()) << n << ": " << der.status();
    absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(key_, *der);
    ASSERT_TRUE(decrypted.ok()) << n << ": " << decrypted.status();
    EXPECT_TRUE(decrypted->Equals(plaintext)) << n;
    EXPECT_EQ(ERR_peek_error(), 0u) << n;
  }
}

TEST_F(CmsEnvelopeTest, PlaintextOverTheLimitIsRefused) {
  SecretBytes plaintext = PatternPlaintext(kMaxKmsEnvelopePlaintextSize + 1);
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, plaintext.Reveal());
  ASSERT_FALSE(der.ok());
  EXPECT_EQ(der.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CmsEnvelopeTest, EachBuildUsesAFreshKeyAndIv) {
  SecretBytes plaintext = PatternPlaintext(32);
  absl::StatusOr<Bytes> a = BuildKmsEnvelope(key_, plaintext.Reveal());
  absl::StatusOr<Bytes> b = BuildKmsEnvelope(key_, plaintext.Reveal());
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<KmsEnvelope> ea = ParseKmsEnvelope(*a);
  absl::StatusOr<KmsEnvelope> eb = ParseKmsEnvelope(*b);
  ASSERT_TRUE(ea.ok() && eb.ok());
  EXPECT_NE(ea->iv, eb->iv);
  EXPECT_NE(ea->encrypted_key, eb->encrypted_key);
  EXPECT_NE(ea->ciphertext, eb->ciphertext);
}

TEST_F(CmsEnvelopeTest, CiphertextDoesNotContainThePlaintext) {
  const std::string canary = "CANARY-lockout-secret-0123456789";
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, AsBytes(canary));
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(ToString(*der).find(canary), std::string::npos);
}

TEST_F(CmsEnvelopeTest, DecryptWithTheWrongKeyFailsCleanly) {
  SecretBytes plaintext = PatternPlaintext(64);
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, plaintext.Reveal());
  ASSERT_TRUE(der.ok());
  // Deterministic: OAEP decoding fails and CMS_DEBUG_DECRYPT keeps OpenSSL from substituting a
  // random content key, so no attempt can "succeed" with garbage.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(other_key_, *der);
    ASSERT_FALSE(decrypted.ok());
    EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
}

TEST_F(CmsEnvelopeTest, DecryptWithATamperedEncryptedKeyFails) {
  SecretBytes plaintext = PatternPlaintext(64);
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, plaintext.Reveal());
  ASSERT_TRUE(der.ok());
  absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(*der);
  ASSERT_TRUE(env.ok());
  // Find the encrypted key inside the DER and flip one bit in its middle.
  auto at =
      std::search(der->begin(), der->end(), env->encrypted_key.begin(), env->encrypted_key.end());
  ASSERT_NE(at, der->end());
  Bytes tampered = *der;
  tampered[static_cast<size_t>(at - der->begin()) + 128] ^= 0x01;
  absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(key_, tampered);
  ASSERT_FALSE(decrypted.ok());
  EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(CmsEnvelopeTest, DecryptWithAKeyOfAnotherSizeSaysNotForThisKey) {
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, AsBytes("x"));
  ASSERT_TRUE(der.ok());
  EvpPkeyPtr big(EVP_RSA_gen(3072));
  ASSERT_NE(big, nullptr);
  absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(big.get(), *der);
  ASSERT_FALSE(decrypted.ok());
  EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(decrypted.status().message()), HasSubstr("not for this key"));
}

TEST_F(CmsEnvelopeTest, DecryptOfEveryTruncationFailsCleanly) {
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, AsBytes("truncate me"));
  ASSERT_TRUE(der.ok());
  for (size_t n = 0; n < der->size(); ++n) {
    absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(key_, ByteView(*der).first(n));
    ASSERT_FALSE(decrypted.ok()) << n;
    EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kInvalidArgument) << n;
    EXPECT_EQ(ERR_peek_error(), 0u) << n;
  }
}

TEST_F(CmsEnvelopeTest, UnusableKeysAreRefused) {
  EvpPkeyPtr ec(EVP_EC_gen("P-256"));
  EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_NE(ec, nullptr);
  ASSERT_NE(small, nullptr);
  const std::vector<const EVP_PKEY*> bad_keys = {nullptr, ec.get(), small.get()};
  for (const EVP_PKEY* k : bad_keys) {
    absl::StatusOr<Bytes> der = BuildKmsEnvelope(k, AsBytes("data"));
    ASSERT_FALSE(der.ok());
    EXPECT_EQ(der.status().code(), absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, AsBytes("data"));
  ASSERT_TRUE(der.ok());
  for (const EVP_PKEY* k : bad_keys) {
    absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(k, *der);
    ASSERT_FALSE(decrypted.ok());
    EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(CmsEnvelopeTest, DecryptWithAPublicOnlyKeyFails) {
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(key_, AsBytes("data"));
  ASSERT_TRUE(der.ok());
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(*spki);
  ASSERT_TRUE(pub.ok());
  absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(pub->get(), *der);
  ASSERT_FALSE(decrypted.ok());
  EXPECT_EQ(decrypted.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(CmsEnvelopeTest, BuildAcceptsAPublicOnlyKeyFromSpki) {
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key_);
  ASSERT_TRUE(spki.ok());
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(*spki);
  ASSERT_TRUE(pub.ok());
  SecretBytes plaintext = PatternPlaintext(48);
  absl::StatusOr<Bytes> der = BuildKmsEnvelope(pub->get(), plaintext.Reveal());
  ASSERT_TRUE(der.ok()) << der.status();
  absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(key_, *der);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_TRUE(decrypted->Equals(plaintext));
}

// The fuzz seeds were made by `openssl cms -encrypt` for the throwaway fuzz key (see
// tests/testdata/cms/README.md); the KMS-shaped ones, DER and indefinite-length BER, decrypt.
TEST(CmsFuzzSeedTest, KmsShapedSeedsDecryptWithTheFuzzKey) {
  BioPtr bio(BIO_new_file(testing::TestDataPath("cms/fuzz-rsa2048-key.pem").c_str(), "r"));
  ASSERT_NE(bio, nullptr);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  const std::string corpus = testing::SourceDir() + "/fuzz/corpus/cms_fuzzer/";
  struct Seed {
    const char* file;
    size_t plaintext_size;
  };
  for (const Seed& seed : {Seed{"kms-shaped-10.der", 10}, Seed{"kms-shaped-32.der", 32},
                           Seed{"kms-shaped-indefinite.ber", 300}}) {
    Bytes envelope = testing::ReadTestFile(corpus + seed.file);
    absl::StatusOr<SecretBytes> plaintext = DecryptKmsEnvelope(key.get(), envelope);
    ASSERT_TRUE(plaintext.ok()) << seed.file << ": " << plaintext.status();
    EXPECT_EQ(plaintext->size(), seed.plaintext_size) << seed.file;
  }
  absl::StatusOr<SecretBytes> hello =
      DecryptKmsEnvelope(key.get(), testing::ReadTestFile(corpus + "kms-shaped-10.der"));
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(hello->RevealAsString(), "hello, kms");
  for (const char* file : {"pkcs1v15.der", "aes128.der", "issuer-serial.der", "two-recipients.der",
                           "truncated.der", "garbage.bin"}) {
    EXPECT_EQ(DecryptKmsEnvelope(key.get(), testing::ReadTestFile(corpus + file)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << file;
  }
}

// ------------------------------------------------------------------------------------------
// Envelopes of other shapes (built with OpenSSL directly) are refused by the strict parser.
// ------------------------------------------------------------------------------------------

struct Shape {
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  bool oaep = true;
  const EVP_MD* oaep_md = EVP_sha256();  // nullptr: OpenSSL default (SHA-1)
  const EVP_MD* mgf1_md = EVP_sha256();  // nullptr: follows oaep_md
  std::string label;
  bool use_keyid = true;
  int recipients = 1;
  bool detached = false;
};

X509Ptr SelfSignedCert(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("lockout-test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash");
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert.get(), key, EVP_sha256());
  return cert;
}

Bytes BuildShape(const Shape& shape, X509* cert) {
  CmsPtr cms(CMS_EnvelopedData_create(shape.cipher));
  if (cms == nullptr) return {};
  for (int i = 0; i < shape.recipients; ++i) {
    unsigned int flags = CMS_KEY_PARAM | (shape.use_keyid ? CMS_USE_KEYID : 0u);
    CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms.get(), cert, flags);
    if (ri == nullptr) return {};
    EVP_PKEY_CTX* pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
    if (shape.oaep) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING);
      if (shape.oaep_md != nullptr) EVP_PKEY_CTX_set_rsa_oaep_md(pctx, shape.oaep_md);
      if (shape.mgf1_md != nullptr) EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, shape.mgf1_md);
      if (!shape.label.empty()) {
        void* label = OPENSSL_memdup(shape.label.data(), shape.label.size());
        EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, static_cast<int>(shape.label.size()));
      }
    }
  }
  unsigned int flags = CMS_BINARY | (shape.detached ? CMS_DETACHED : 0u);
  CMS_set_detached(cms.get(), shape.detached ? 1 : 0);
  BioPtr in(BIO_new_mem_buf("hello, kms", 10));
  if (CMS_final(cms.get(), in.get(), nullptr, flags) != 1) return {};
  int len = i2d_CMS_ContentInfo(cms.get(), nullptr);
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_CMS_ContentInfo(cms.get(), &out);
  return der;
}

class EnvelopeShapeTest : public CmsEnvelopeTest {
 protected:
  void SetUp() override { cert_ = SelfSignedCert(key_); }
  // Builds the shape, checks that OpenSSL itself can decrypt it (so it is a valid CMS), and
  // returns the parser's verdict.
  absl::Status ParseShape(const Shape& shape) {
    Bytes der = BuildShape(shape, cert_.get());
    if (der.empty()) return absl::InternalError("OpenSSL could not build the test shape");
    if (!shape.detached) {
      const unsigned char* p = der.data();
      CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
      BioPtr out(BIO_new(BIO_s_mem()));
      EXPECT_EQ(CMS_decrypt(cms.get(), key_, cert_.get(), nullptr, out.get(), CMS_BINARY), 1)
          << "OpenSSL cannot decrypt the test shape";
    }
    return ParseKmsEnvelope(der).status();
  }
  X509Ptr cert_;
};

TEST_F(EnvelopeShapeTest, TheReferenceShapeIsAccepted) {
  EXPECT_TRUE(ParseShape(Shape{}).ok());
  // And decrypts through our decryptor.
  absl::StatusOr<SecretBytes> plaintext =
      DecryptKmsEnvelope(key_, BuildShape(Shape{}, cert_.get()));
  ASSERT_TRUE(plaintext.ok()) << plaintext.status();
  EXPECT_EQ(plaintext->RevealAsString(), "hello, kms");
}

TEST_F(EnvelopeShapeTest, TwoRecipientsAreRejected) {
  Shape s;
  s.recipients = 2;
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("exactly one RecipientInfo"));
}

TEST_F(EnvelopeShapeTest, Aes128ContentEncryptionIsRejected) {
  Shape s;
  s.cipher = EVP_aes_128_cbc();
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("AES-256-CBC"));
}

TEST_F(EnvelopeShapeTest, Aes256GcmContentEncryptionIsRejected) {
  // AuthEnvelopedData is a different content type altogether.
  Shape s;
  s.cipher = EVP_aes_256_gcm();
  Bytes der = BuildShape(s, cert_.get());
  if (der.empty()) GTEST_SKIP() << "OpenSSL did not build AES-GCM enveloped data";
  EXPECT_EQ(ParseKmsEnvelope(der).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EnvelopeShapeTest, Pkcs1V15KeyTransportIsRejected) {
  Shape s;
  s.oaep = false;
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("not RSAES-OAEP"));
}

TEST_F(EnvelopeShapeTest, OaepWithSha1DefaultsIsRejected) {
  Shape s;
  s.oaep_md = nullptr;
  s.mgf1_md = nullptr;
  absl::Status status = ParseShape(s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("RSAES-OAEP"));
}

TEST_F(EnvelopeShapeTest, OaepWithSha384IsRejected) {
  Shape s;
  s.oaep_md = EVP_sha384();
  s.mgf1_md = EVP_sha384();
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("hash is not SHA-256"));
}

TEST_F(EnvelopeShapeTest, OaepWithMgf1Sha1IsRejected) {
  Shape s;
  s.mgf1_md = EVP_sha1();
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("MGF1 hash is not SHA-256"));
}

TEST_F(EnvelopeShapeTest, OaepWithALabelIsRejected) {
  Shape s;
  s.label = "label";
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("label"));
}

TEST_F(EnvelopeShapeTest, IssuerAndSerialRecipientIsRejected) {
  Shape s;
  s.use_keyid = false;
  EXPECT_EQ(ParseShape(s).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EnvelopeShapeTest, DetachedContentIsRejected) {
  Shape s;
  s.detached = true;
  EXPECT_THAT(std::string(ParseShape(s).message()), HasSubstr("detached"));
}

// OpenSSL has no API to add originatorInfo or unprotectedAttrs to EnvelopedData, so these
// splice them into the real sample 1, whose indefinite lengths need no fix-up.
TEST(CmsEnvelopeSpliceTest, OriginatorInfoIsRejected) {
  LOCKOUT_VECTOR_OR_SKIP(path, "kms/sdk-c-cms-envelope-1.ber");
  Bytes ber = testing::ReadTestFile(path);
  ASSERT_GT(ber.size(), 20u);
  ASSERT_EQ(HexEncode(ByteView(ber).subspan(15, 5)), "3080020102");  // EnvelopedData, version 2
  Bytes spliced = ber;
  const uint8_t empty_originator_info[] = {0xa0, 0x00};
  spliced.insert(spliced.begin() + 20, std::begin(empty_originator_info),
                 std::end(empty_originator_info));
  absl::Status status = ParseKmsEnvelope(spliced).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("originatorInfo"));
}

TEST(CmsEnvelopeSpliceTest, UnprotectedAttrsAreRejected) {
  LOCKOUT_VECTOR_OR_SKIP(path, "kms/sdk-c-cms-envelope-1.ber");
  Bytes ber = testing::ReadTestFile(path);
  ASSERT_EQ(ber.size(), 493u);
  // Offset 487 is the end-of-contents of the EnvelopedData SEQUENCE; put
  // [1] { Attribute { commonName, SET { UTF8String "abc" } } } before it.
  ASSERT_EQ(HexEncode(ByteView(ber).subspan(483)), "00000000000000000000");
  Bytes spliced = ber;
  const uint8_t attrs[] = {0xa1, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04,
                           0x03, 0x31, 0x05, 0x0c, 0x03, 0x61, 0x62, 0x63};
  spliced.insert(spliced.begin() + 487, std::begin(attrs), std::end(attrs));
  absl::Status status = ParseKmsEnvelope(spliced).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("unprotectedAttrs"));
}

TEST(CmsEnvelopeParseTest, OtherContentTypesAreRejected) {
  BioPtr in(BIO_new_mem_buf("data", 4));
  CmsPtr cms(CMS_data_create(in.get(), CMS_BINARY));
  ASSERT_NE(cms, nullptr);
  int len = i2d_CMS_ContentInfo(cms.get(), nullptr);
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_CMS_ContentInfo(cms.get(), &out);
  absl::Status status = ParseKmsEnvelope(der).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("not EnvelopedData"));
}

TEST(CmsEnvelopeParseTest, EmptyOversizedAndNonAsn1InputsAreRejected) {
  EXPECT_EQ(ParseKmsEnvelope({}).status().code(), absl::StatusCode::kInvalidArgument);
  Bytes huge(kMaxKmsEnvelopeSize + 1, 0x30);
  absl::Status status = ParseKmsEnvelope(huge).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("size"));
  for (const char* text :
       {"not asn.1 at all", "\x02\x01\x05", "\x30\x80", "\x30\x03\x06\x01\x00"}) {
    EXPECT_EQ(ParseKmsEnvelope(AsBytes(text)).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(CmsEnvelopeParseTest, AClaimedHugeLengthIsRejectedWithoutReadingPastTheInput) {
  // SEQUENCE with a 4-byte length claiming 2 GiB.
  const uint8_t claim[] = {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x09};
  EXPECT_EQ(ParseKmsEnvelope(claim).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::crypto
