// The local KMS service, called directly through Handle() with a FakeClock, a temporary state
// directory and a real IdentityStore (issue 3 items 3, 4, 7, 10).

#include "src/localaws/kms_service.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/builder.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"
#include "src/localaws/identity.h"
#include "src/localaws/kms_grants.h"
#include "src/localaws/kms_key_store.h"
#include "src/policy/policy_evaluator.h"
#include "tests/attest/attest_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::localaws {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14T22:13:20Z

std::string MakeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kms_test.XXXXXX").string();
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

Bytes Pcr(uint8_t fill) { return Bytes(48, fill); }

const std::vector<std::string> kAdminActions = {"kms:Create*",
                                                "kms:Describe*",
                                                "kms:Enable*",
                                                "kms:List*",
                                                "kms:Put*",
                                                "kms:Update*",
                                                "kms:Revoke*",
                                                "kms:Disable*",
                                                "kms:Get*",
                                                "kms:Delete*",
                                                "kms:TagResource",
                                                "kms:UntagResource",
                                                "kms:ScheduleKeyDeletion",
                                                "kms:CancelKeyDeletion"};
constexpr char kPcr0Key[] = "kms:RecipientAttestation:ImageSha384";

// ARCHITECTURE §6: the seed tutorial's end state.
std::string SeedPolicy(const std::string& admin, const std::string& role, const std::string& pcr0) {
  Json p = {
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Sid", "Allow access for Key Administrators"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", admin}}},
         {"Action", kAdminActions},
         {"Resource", "*"}},
        {{"Sid", "Allow use of the key"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", role}}},
         {"Action", {"kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}},
         {"Resource", "*"}},
        {{"Sid", "Enable decrypt from enclave"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", role}}},
         {"Action", "kms:Decrypt"},
         {"Resource", "*"},
         {"Condition", {{"StringEqualsIgnoreCase", {{kPcr0Key, pcr0}}}}}}}}};
  return p.dump();
}

// ARCHITECTURE §6: `lockout policy --mode recommended`.
std::string RecommendedPolicy(const std::string& admin, const std::string& role,
                              const std::string& pcr0) {
  Json p = {{"Version", "2012-10-17"},
            {"Statement",
             {{{"Sid", "KeyAdministration"},
               {"Effect", "Allow"},
               {"Principal", {{"AWS", admin}}},
               {"Action", kAdminActions},
               {"Resource", "*"}},
              {{"Sid", "EncryptForEnclave"},
               {"Effect", "Allow"},
               {"Principal", {{"AWS", role}}},
               {"Action", {"kms:Encrypt", "kms:DescribeKey"}},
               {"Resource", "*"}},
              {{"Sid", "DecryptOnlyInEnclave"},
               {"Effect", "Allow"},
               {"Principal", {{"AWS", role}}},
               {"Action", "kms:Decrypt"},
               {"Resource", "*"},
               {"Condition", {{"StringEqualsIgnoreCase", {{kPcr0Key, pcr0}}}}}},
              {{"Sid", "DenyDecryptWithoutAttestation"},
               {"Effect", "Deny"},
               {"Principal", "*"},
               {"Action", "kms:Decrypt"},
               {"Resource", "*"},
               {"Condition", {{"StringNotEqualsIgnoreCase", {{kPcr0Key, pcr0}}}}}}}}};
  return p.dump();
}

class KmsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    auto identity = IdentityStore::Open(dir_, IdentityOptions{}, clock_);
    ASSERT_TRUE(identity.ok()) << identity.status();
    identity_ = *std::move(identity);
    pki_ = std::make_unique<attest::testing::TestPki>(attest::testing::MakeTestPki(kStart));
    foreign_ = std::make_unique<attest::testing::TestPki>(attest::testing::MakeTestPki(kStart));
    auto rsa = crypto::GenerateRsa2048Key();
    ASSERT_TRUE(rsa.ok());
    rsa_ = *std::move(rsa);
    auto spki = crypto::PublicKeyToSpkiDer(rsa_.get());
    ASSERT_TRUE(spki.ok());
    spki_ = *spki;
    Reopen();
  }

  void TearDown() override {
    Logger::Default().SetStream(nullptr);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Reopen() {
    kms_.reset();
    KmsOptions options;
    options.state_dir = dir_;
    options.trusted_attestation_roots = {pki_->root.certificate()};
    auto kms = KmsService::Open(options, *identity_, clock_);
    ASSERT_TRUE(kms.ok()) << kms.status();
    kms_ = *std::move(kms);
  }

  AwsResult Call(std::string_view op, const Json& body, const policy::Principal& who) {
    CallContext ctx{who, "AKIDTEST", "req-test"};
    return kms_->Handle(op, body, ctx);
  }
  AwsResult Call(std::string_view op, const Json& body) { return Call(op, body, root()); }

  // Runs `op` and expects success; returns the response.
  Json Ok(std::string_view op, const Json& body, const policy::Principal& who) {
    AwsResult r = Call(op, body, who);
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().type + " " + r.error().message);
    return r.ok() ? r.value() : Json();
  }
  Json Ok(std::string_view op, const Json& body) { return Ok(op, body, root()); }

  // Runs `op` and returns the error type ("" on success).
  std::string ErrorOf(std::string_view op, const Json& body, const policy::Principal& who) {
    AwsResult r = Call(op, body, who);
    return r.ok() ? "" : r.error().type;
  }
  std::string ErrorOf(std::string_view op, const Json& body) { return ErrorOf(op, body, root()); }

  const policy::Principal& root() const { return identity_->root(); }
  const policy::Principal& admin() const { return identity_->admin(); }
  const policy::Principal& instance() const { return identity_->instance(); }

  std::string CreateKey(const Json& extra = Json::object(),
                        const policy::Principal* who = nullptr) {
    Json body = extra;
    if (body.is_null()) body = Json::object();
    Json r = Ok("CreateKey", body, who ? *who : root());
    return r["KeyMetadata"]["KeyId"].get<std::string>();
  }

  Bytes EncryptBlob(const std::string& key, std::string_view plaintext,
                    const Json& context = nullptr, const policy::Principal* who = nullptr) {
    Json body = {{"KeyId", key}, {"Plaintext", Base64Encode(AsBytes(plaintext))}};
    if (!context.is_null()) body["EncryptionContext"] = context;
    Json r = Ok("Encrypt", body, who ? *who : root());
    auto blob = Base64Decode(r.value("CiphertextBlob", ""));
    EXPECT_TRUE(blob.ok());
    return blob.ok() ? *blob : Bytes();
  }

  // A document signed by `pki` (the trusted test PKI unless given) at the clock's now.
  Bytes Document(std::map<uint32_t, Bytes> pcrs, const attest::testing::TestPki* pki = nullptr,
                 std::optional<absl::Time> timestamp = std::nullopt, bool with_key = true) {
    const attest::testing::TestPki& p = pki ? *pki : *pki_;
    attest::AttestationDocument fields = attest::testing::SampleFields(p, clock_.Now());
    fields.pcrs = std::move(pcrs);
    if (timestamp) fields.timestamp_ms = static_cast<uint64_t>(absl::ToUnixMillis(*timestamp));
    if (with_key) {
      fields.public_key = spki_;
    } else {
      fields.public_key.reset();
    }
    auto doc = attest::BuildAttestationDocument(fields, p.leaf.key.get());
    EXPECT_TRUE(doc.ok()) << doc.status();
    return doc.ok() ? *doc : Bytes();
  }
  Bytes GoodDocument() { return Document({{0, Pcr(0xa1)}, {1, Pcr(0xb2)}, {2, Pcr(0xc3)}}); }
  static std::string GoodPcr0Hex() { return HexEncode(Pcr(0xa1)); }

  static Json Recipient(const Bytes& doc) {
    return {{"AttestationDocument", Base64Encode(doc)},
            {"KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256"}};
  }

  // Opens a CiphertextForRecipient with the test RSA key.
  std::string OpenEnvelope(const Json& response) {
    auto env = Base64Decode(response.value("CiphertextForRecipient", ""));
    EXPECT_TRUE(env.ok());
    if (!env.ok()) return "";
    auto plain = crypto::DecryptKmsEnvelope(rsa_.get(), *env);
    EXPECT_TRUE(plain.ok()) << plain.status();
    return plain.ok() ? std::string(plain->RevealAsString()) : "";
  }

  FakeClock clock_{kStart};
  std::string dir_;
  std::unique_ptr<IdentityStore> identity_;
  std::unique_ptr<attest::testing::TestPki> pki_;
  std::unique_ptr<attest::testing::TestPki> foreign_;
  crypto::EvpPkeyPtr rsa_;
  Bytes spki_;
  std::unique_ptr<KmsService> kms_;
};

// ---------------------------------------------------------------------------------------------
// CreateKey / DescribeKey / ListKeys

TEST_F(KmsServiceTest, CreateKeyReturnsAwsShapedMetadata) {
  Json r = Ok("CreateKey", {{"Description", "signing key"}});
  const Json& m = r["KeyMetadata"];
  const std::string id = m["KeyId"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(m["Arn"], "arn:aws:kms:us-east-1:111122223333:key/" + id);
  EXPECT_EQ(m["AWSAccountId"], "111122223333");
  EXPECT_TRUE(m["CreationDate"].is_number());
  EXPECT_DOUBLE_EQ(m["CreationDate"].get<double>(), 1'700'000'000.0);
  EXPECT_EQ(m["Enabled"], true);
  EXPECT_EQ(m["Description"], "signing key");
  EXPECT_EQ(m["KeyUsage"], "ENCRYPT_DECRYPT");
  EXPECT_EQ(m["KeyState"], "Enabled");
  EXPECT_EQ(m["Origin"], "AWS_KMS");
  EXPECT_EQ(m["KeyManager"], "CUSTOMER");
  EXPECT_EQ(m["KeySpec"], "SYMMETRIC_DEFAULT");
  EXPECT_EQ(m["CustomerMasterKeySpec"], "SYMMETRIC_DEFAULT");
  EXPECT_EQ(m["EncryptionAlgorithms"], Json::array({"SYMMETRIC_DEFAULT"}));
  EXPECT_EQ(m["MultiRegion"], false);
  EXPECT_FALSE(m.contains("DeletionDate"));

  Json d = Ok("DescribeKey", {{"KeyId", id}});
  EXPECT_EQ(d["KeyMetadata"], m);
  Json by_arn = Ok("DescribeKey", {{"KeyId", m["Arn"]}});
  EXPECT_EQ(by_arn["KeyMetadata"]["KeyId"], id);
}

TEST_F(KmsServiceTest, CreateKeyRejectsUnsupportedSpecsAndUsages) {
  EXPECT_EQ(ErrorOf("CreateKey", {{"KeySpec", "RSA_2048"}}), "UnsupportedOperationException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"KeyUsage", "SIGN_VERIFY"}}), "UnsupportedOperationException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"Origin", "EXTERNAL"}}), "UnsupportedOperationException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"MultiRegion", true}}), "UnsupportedOperationException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"KeySpec", "AES_9"}}), "ValidationException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"KeySpec", "SYMMETRIC_DEFAULT"},
                                  {"CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"}}),
            "ValidationException");
  EXPECT_EQ(
      ErrorOf("CreateKey", {{"KeySpec", "SYMMETRIC_DEFAULT"}, {"KeyUsage", "ENCRYPT_DECRYPT"}}),
      "");
}

TEST_F(KmsServiceTest, CreateKeyIsDeniedToTheInstanceRoleWhoseIdentityPolicyLacksIt) {
  AwsResult r = Call("CreateKey", Json::object(), instance());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, "AccessDeniedException");
  EXPECT_THAT(r.error().message, HasSubstr("is not authorized to perform: kms:CreateKey"));
  EXPECT_EQ(ErrorOf("CreateKey", Json::object(), admin()), "");
}

TEST_F(KmsServiceTest, ListKeysPagesWithMarkers) {
  std::set<std::string> created;
  for (int i = 0; i < 3; ++i) created.insert(CreateKey());
  std::set<std::string> seen;
  Json body = {{"Limit", 2}};
  Json page1 = Ok("ListKeys", body);
  EXPECT_EQ(page1["Keys"].size(), 2u);
  EXPECT_EQ(page1["Truncated"], true);
  ASSERT_TRUE(page1.contains("NextMarker"));
  for (const Json& k : page1["Keys"]) {
    seen.insert(k["KeyId"]);
    EXPECT_EQ(k["KeyArn"],
              "arn:aws:kms:us-east-1:111122223333:key/" + k["KeyId"].get<std::string>());
  }
  Json page2 = Ok("ListKeys", {{"Limit", 2}, {"Marker", page1["NextMarker"]}});
  EXPECT_EQ(page2["Keys"].size(), 1u);
  EXPECT_EQ(page2["Truncated"], false);
  EXPECT_FALSE(page2.contains("NextMarker"));
  for (const Json& k : page2["Keys"]) seen.insert(k["KeyId"]);
  EXPECT_EQ(seen, created);
  EXPECT_EQ(ErrorOf("ListKeys", {{"Limit", 0}}), "ValidationException");
  EXPECT_EQ(ErrorOf("ListKeys", {{"Limit", 1001}}), "ValidationException");
}

// ---------------------------------------------------------------------------------------------
// Encrypt / Decrypt / encryption context

TEST_F(KmsServiceTest, EncryptThenDecryptReturnsThePlaintextAndKeyArn) {
  std::string key = CreateKey();
  Json enc =
      Ok("Encrypt", {{"KeyId", key}, {"Plaintext", Base64Encode(AsBytes("attack at dawn"))}});
  EXPECT_EQ(enc["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);
  EXPECT_EQ(enc["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
  Json dec = Ok("Decrypt", {{"CiphertextBlob", enc["CiphertextBlob"]}});
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes("attack at dawn")));
  EXPECT_EQ(dec["KeyId"], enc["KeyId"]);
  EXPECT_EQ(dec["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
  EXPECT_FALSE(dec.contains("CiphertextForRecipient"));
}

TEST_F(KmsServiceTest, PlaintextSizeLimitsAreOneTo4096Bytes) {
  std::string key = CreateKey();
  std::string max(4096, 'x');
  Bytes blob = EncryptBlob(key, max);
  Json dec = Ok("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}});
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes(max)));
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", Base64Encode(Bytes(4097, 1))}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", ""}}), "ValidationException");
}

TEST_F(KmsServiceTest, EncryptionContextIsBoundAsAad) {
  std::string key = CreateKey();
  Json ctx = {{"purpose", "test"}, {"app", "lockout"}};
  Bytes blob = EncryptBlob(key, "secret", ctx);
  const std::string b64 = Base64Encode(blob);
  // Same pairs in another JSON order: still the same context.
  Json reordered = Json::parse(R"({"app":"lockout","purpose":"test"})");
  EXPECT_EQ(Ok("Decrypt", {{"CiphertextBlob", b64}, {"EncryptionContext", reordered}})["Plaintext"],
            Base64Encode(AsBytes("secret")));
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", b64}}), "InvalidCiphertextException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", b64},
                                {"EncryptionContext", {{"purpose", "other"}, {"app", "lockout"}}}}),
            "InvalidCiphertextException");
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", b64}, {"EncryptionContext", {{"purpose", "test"}}}}),
      "InvalidCiphertextException");
  EXPECT_EQ(ErrorOf("Decrypt",
                    {{"CiphertextBlob", b64},
                     {"EncryptionContext", {{"purpose", "test"}, {"app", "lockout"}, {"x", ""}}}}),
            "InvalidCiphertextException");
  // A blob made without a context does not open with one.
  Bytes plain_blob = EncryptBlob(key, "secret");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(plain_blob)},
                                {"EncryptionContext", {{"a", "b"}}}}),
            "InvalidCiphertextException");
}

TEST_F(KmsServiceTest, EveryFlippedBitOfACiphertextIsInvalidCiphertext) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "x");
  for (size_t i = 0; i < blob.size(); ++i) {
    for (int bit : {0, 7}) {
      Bytes bad = attest::testing::FlipBit(blob, i, bit);
      EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(bad)}}),
                "InvalidCiphertextException")
          << "offset " << i << " bit " << bit;
    }
  }
  for (size_t n = 1; n < blob.size(); ++n) {
    Bytes cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(cut)}}),
              "InvalidCiphertextException")
        << "truncated to " << n;
  }
}

TEST_F(KmsServiceTest, ABlobMovedToAnotherKeyIdDoesNotDecrypt) {
  std::string a = CreateKey();
  std::string b = CreateKey();
  Bytes blob = EncryptBlob(a, "secret");
  // Rewrite the key id inside the blob: the AAD binds it, and b's material differs.
  std::copy(b.begin(), b.end(), blob.begin() + 1);
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}}),
            "InvalidCiphertextException");
  // A blob naming a key that does not exist.
  std::string unknown = "00000000-0000-4000-8000-000000000000";
  std::copy(unknown.begin(), unknown.end(), blob.begin() + 1);
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}}),
            "InvalidCiphertextException");
}

TEST_F(KmsServiceTest, DecryptWithAMismatchingKeyIdIsIncorrectKey) {
  std::string a = CreateKey();
  std::string b = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/a"}, {"TargetKeyId", a}});
  const std::string blob = Base64Encode(EncryptBlob(a, "secret"));
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"KeyId", b}}), "IncorrectKeyException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"KeyId", a}}), "");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"KeyId", "alias/a"}}), "");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob},
                                {"KeyId", "arn:aws:kms:us-east-1:111122223333:key/" + a}}),
            "");
  EXPECT_EQ(ErrorOf("Decrypt",
                    {{"CiphertextBlob", blob}, {"KeyId", "11111111-2222-3333-4444-555555555555"}}),
            "NotFoundException");
}

TEST_F(KmsServiceTest, AsymmetricAlgorithmsAreInvalidKeyUsageForASymmetricKey) {
  std::string key = CreateKey();
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key},
                                {"Plaintext", "AA=="},
                                {"EncryptionAlgorithm", "RSAES_OAEP_SHA_256"}}),
            "InvalidKeyUsageException");
  EXPECT_EQ(
      ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}, {"EncryptionAlgorithm", "ROT13"}}),
      "ValidationException");
}

TEST_F(KmsServiceTest, DryRunAuthorisesButDoesNothing) {
  std::string key = CreateKey();
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}, {"DryRun", true}}),
            "DryRunOperationException");
  const std::string blob = Base64Encode(EncryptBlob(key, "x"));
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"DryRun", true}}),
            "DryRunOperationException");
  // The instance role's identity policy allows kms:Encrypt only.
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"DryRun", true}}, instance()),
            "AccessDeniedException");
}

// ---------------------------------------------------------------------------------------------
// ReEncrypt, GenerateDataKey*, GenerateRandom

TEST_F(KmsServiceTest, ReEncryptMovesACiphertextToAnotherKeyAndContext) {
  std::string a = CreateKey();
  std::string b = CreateKey();
  Bytes blob = EncryptBlob(a, "payload", {{"k", "1"}});
  Json r = Ok("ReEncrypt", {{"CiphertextBlob", Base64Encode(blob)},
                            {"SourceEncryptionContext", {{"k", "1"}}},
                            {"DestinationKeyId", b},
                            {"DestinationEncryptionContext", {{"k", "2"}}}});
  EXPECT_EQ(r["SourceKeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + a);
  EXPECT_EQ(r["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + b);
  EXPECT_EQ(r["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
  EXPECT_EQ(r["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
  Json dec =
      Ok("Decrypt", {{"CiphertextBlob", r["CiphertextBlob"]}, {"EncryptionContext", {{"k", "2"}}}});
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes("payload")));
  EXPECT_EQ(dec["KeyId"], r["KeyId"]);

  EXPECT_EQ(ErrorOf("ReEncrypt", {{"CiphertextBlob", Base64Encode(blob)}, {"DestinationKeyId", b}}),
            "InvalidCiphertextException");
  EXPECT_EQ(ErrorOf("ReEncrypt", {{"CiphertextBlob", Base64Encode(blob)},
                                  {"SourceEncryptionContext", {{"k", "1"}}},
                                  {"SourceKeyId", b},
                                  {"DestinationKeyId", b}}),
            "IncorrectKeyException");
  EXPECT_EQ(ErrorOf("ReEncrypt", {{"CiphertextBlob", Base64Encode(blob)}}), "ValidationException");
}

TEST_F(KmsServiceTest, GenerateDataKeyReturnsAKeyAndItsCiphertext) {
  std::string key = CreateKey();
  for (auto [spec, size] : {std::pair<std::string, size_t>{"AES_256", 32}, {"AES_128", 16}}) {
    Json r = Ok("GenerateDataKey",
                {{"KeyId", key}, {"KeySpec", spec}, {"EncryptionContext", {{"a", "b"}}}});
    auto plain = Base64Decode(r["Plaintext"].get<std::string>());
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->size(), size);
    Json dec = Ok("Decrypt",
                  {{"CiphertextBlob", r["CiphertextBlob"]}, {"EncryptionContext", {{"a", "b"}}}});
    EXPECT_EQ(dec["Plaintext"], r["Plaintext"]);
    EXPECT_EQ(r["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);
  }
  Json n = Ok("GenerateDataKey", {{"KeyId", key}, {"NumberOfBytes", 7}});
  EXPECT_EQ(Base64Decode(n["Plaintext"].get<std::string>())->size(), 7u);
  EXPECT_EQ(ErrorOf("GenerateDataKey", {{"KeyId", key}}), "ValidationException");
  EXPECT_EQ(
      ErrorOf("GenerateDataKey", {{"KeyId", key}, {"KeySpec", "AES_256"}, {"NumberOfBytes", 32}}),
      "ValidationException");
  EXPECT_EQ(ErrorOf("GenerateDataKey", {{"KeyId", key}, {"KeySpec", "AES_512"}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("GenerateDataKey", {{"KeyId", key}, {"NumberOfBytes", 1025}}),
            "ValidationException");

  Json w = Ok("GenerateDataKeyWithoutPlaintext", {{"KeyId", key}, {"KeySpec", "AES_256"}});
  EXPECT_FALSE(w.contains("Plaintext"));
  EXPECT_TRUE(w.contains("CiphertextBlob"));
  Json wd = Ok("Decrypt", {{"CiphertextBlob", w["CiphertextBlob"]}});
  EXPECT_EQ(Base64Decode(wd["Plaintext"].get<std::string>())->size(), 32u);
}

TEST_F(KmsServiceTest, GenerateRandomReturnsTheRequestedNumberOfBytes) {
  Json r = Ok("GenerateRandom", {{"NumberOfBytes", 1024}});
  EXPECT_EQ(Base64Decode(r["Plaintext"].get<std::string>())->size(), 1024u);
  Json r2 = Ok("GenerateRandom", {{"NumberOfBytes", 32}});
  EXPECT_NE(r2["Plaintext"], Ok("GenerateRandom", {{"NumberOfBytes", 32}})["Plaintext"]);
  EXPECT_EQ(ErrorOf("GenerateRandom", {{"NumberOfBytes", 0}}), "ValidationException");
  EXPECT_EQ(ErrorOf("GenerateRandom", {{"NumberOfBytes", 1025}}), "ValidationException");
  EXPECT_EQ(ErrorOf("GenerateRandom", Json::object()), "ValidationException");
  EXPECT_EQ(ErrorOf("GenerateRandom", {{"NumberOfBytes", "32"}}), "SerializationException");
}

// ---------------------------------------------------------------------------------------------
// Aliases

TEST_F(KmsServiceTest, AliasesNameKeysEverywhereAKeyIdIsAccepted) {
  std::string key = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/signing"}, {"TargetKeyId", key}});
  const std::string alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/signing";
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", "alias/signing"}})["KeyMetadata"]["KeyId"], key);
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", alias_arn}})["KeyMetadata"]["KeyId"], key);
  Json enc = Ok("Encrypt", {{"KeyId", "alias/signing"}, {"Plaintext", "AA=="}});
  EXPECT_EQ(enc["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);

  Json list = Ok("ListAliases", Json::object());
  ASSERT_EQ(list["Aliases"].size(), 1u);
  const Json& a = list["Aliases"][0];
  EXPECT_EQ(a["AliasName"], "alias/signing");
  EXPECT_EQ(a["AliasArn"], alias_arn);
  EXPECT_EQ(a["TargetKeyId"], key);
  EXPECT_TRUE(a["CreationDate"].is_number());
  EXPECT_TRUE(a["LastUpdatedDate"].is_number());
  EXPECT_EQ(list["Truncated"], false);

  std::string other = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/other"}, {"TargetKeyId", other}});
  EXPECT_EQ(Ok("ListAliases", Json::object())["Aliases"].size(), 2u);
  Json filtered = Ok("ListAliases", {{"KeyId", other}});
  ASSERT_EQ(filtered["Aliases"].size(), 1u);
  EXPECT_EQ(filtered["Aliases"][0]["AliasName"], "alias/other");
}

TEST_F(KmsServiceTest, CreateAliasErrorsMatchAws) {
  std::string key = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/taken"}, {"TargetKeyId", key}});
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/taken"}, {"TargetKeyId", key}}),
            "AlreadyExistsException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "noprefix"}, {"TargetKeyId", key}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/aws/s3"}, {"TargetKeyId", key}}),
            "NotAuthorizedException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/a:b"}, {"TargetKeyId", key}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/sp ace"}, {"TargetKeyId", key}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/x"}, {"TargetKeyId", "alias/taken"}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/x"},
                                    {"TargetKeyId", "11111111-2222-3333-4444-555555555555"}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("DescribeKey", {{"KeyId", "alias/missing"}}), "NotFoundException");
}

// ---------------------------------------------------------------------------------------------
// Key states

TEST_F(KmsServiceTest, DisabledKeysRefuseCryptoUntilEnabled) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "x");
  EXPECT_EQ(Ok("DisableKey", {{"KeyId", key}}), Json::object());
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", key}})["KeyMetadata"]["KeyState"], "Disabled");
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", key}})["KeyMetadata"]["Enabled"], false);
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}}), "DisabledException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}}), "DisabledException");
  EXPECT_EQ(ErrorOf("GenerateDataKey", {{"KeyId", key}, {"KeySpec", "AES_256"}}),
            "DisabledException");
  Ok("EnableKey", {{"KeyId", key}});
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}}), "");
}

TEST_F(KmsServiceTest, ScheduledDeletionBlocksUseAndCancellingLeavesTheKeyDisabled) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "x");
  EXPECT_EQ(ErrorOf("ScheduleKeyDeletion", {{"KeyId", key}, {"PendingWindowInDays", 6}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("ScheduleKeyDeletion", {{"KeyId", key}, {"PendingWindowInDays", 31}}),
            "ValidationException");
  Json s = Ok("ScheduleKeyDeletion", {{"KeyId", key}, {"PendingWindowInDays", 7}});
  EXPECT_EQ(s["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);
  EXPECT_EQ(s["KeyState"], "PendingDeletion");
  EXPECT_EQ(s["PendingWindowInDays"], 7);
  EXPECT_DOUBLE_EQ(s["DeletionDate"].get<double>(), 1'700'000'000.0 + 7 * 86400);
  Json m = Ok("DescribeKey", {{"KeyId", key}})["KeyMetadata"];
  EXPECT_EQ(m["KeyState"], "PendingDeletion");
  EXPECT_EQ(m["DeletionDate"], s["DeletionDate"]);
  EXPECT_EQ(m["PendingDeletionWindowInDays"], 7);

  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}}),
            "KMSInvalidStateException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}}),
            "KMSInvalidStateException");
  EXPECT_EQ(ErrorOf("EnableKey", {{"KeyId", key}}), "KMSInvalidStateException");
  EXPECT_EQ(ErrorOf("ScheduleKeyDeletion", {{"KeyId", key}}), "KMSInvalidStateException");
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/late"}, {"TargetKeyId", key}}),
            "KMSInvalidStateException");

  EXPECT_EQ(Ok("CancelKeyDeletion", {{"KeyId", key}})["KeyId"],
            "arn:aws:kms:us-east-1:111122223333:key/" + key);
  m = Ok("DescribeKey", {{"KeyId", key}})["KeyMetadata"];
  EXPECT_EQ(m["KeyState"], "Disabled");
  EXPECT_FALSE(m.contains("DeletionDate"));
  EXPECT_EQ(ErrorOf("CancelKeyDeletion", {{"KeyId", key}}), "KMSInvalidStateException");
  EXPECT_EQ(Ok("ScheduleKeyDeletion", {{"KeyId", key}})["PendingWindowInDays"], 30);
}

// ---------------------------------------------------------------------------------------------
// Key policies and the lock-out safety check

TEST_F(KmsServiceTest, GetKeyPolicyReturnsTheDefaultPolicyAndThenTheTextAsGiven) {
  std::string key = CreateKey();
  Json p = Ok("GetKeyPolicy", {{"KeyId", key}, {"PolicyName", "default"}});
  EXPECT_EQ(p["PolicyName"], "default");
  Json doc = Json::parse(p["Policy"].get<std::string>());
  EXPECT_EQ(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
  EXPECT_EQ(doc["Statement"][0]["Action"], "kms:*");

  const std::string text =
      "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Sid\": \"Renamed\", \"Effect\": "
      "\"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::111122223333:root\"},\n   "
      "\"Action\": \"kms:*\", \"Resource\": \"*\"}]\n}";
  EXPECT_EQ(Ok("PutKeyPolicy", {{"KeyId", key}, {"PolicyName", "default"}, {"Policy", text}}),
            Json::object());
  EXPECT_EQ(Ok("GetKeyPolicy", {{"KeyId", key}})["Policy"], text);
  EXPECT_EQ(ErrorOf("GetKeyPolicy", {{"KeyId", key}, {"PolicyName", "other"}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("PutKeyPolicy", {{"KeyId", key}, {"PolicyName", "other"}, {"Policy", text}}),
            "ValidationException");
}

TEST_F(KmsServiceTest, MalformedPoliciesAreMalformedPolicyDocument) {
  std::string key = CreateKey();
  for (
      const char* bad :
      {"not json", "{}", R"({"Statement": []})",
       R"({"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}]})"}) {
    EXPECT_EQ(ErrorOf("PutKeyPolicy", {{"KeyId", key}, {"Policy", bad}}),
              "MalformedPolicyDocumentException")
        << bad;
    EXPECT_EQ(ErrorOf("CreateKey", {{"Policy", bad}}), "MalformedPolicyDocumentException") << bad;
  }
}

TEST_F(KmsServiceTest, LockoutSafetyCheckRefusesAPolicyThatLocksTheCallerOut) {
  std::string key = CreateKey();
  // Lets only the instance role encrypt: nobody could ever change the policy again.
  const std::string lockout = SeedPolicy("arn:aws:iam::111122223333:user/nobody",
                                         identity_->instance_role_arn(), GoodPcr0Hex());
  AwsResult r = Call("PutKeyPolicy", {{"KeyId", key}, {"Policy", lockout}}, admin());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, "MalformedPolicyDocumentException");
  EXPECT_EQ(r.error().message, policy::kPolicyLockoutMessage);
  EXPECT_EQ(ErrorOf("CreateKey", {{"Policy", lockout}}, admin()),
            "MalformedPolicyDocumentException");
  // Bypass: accepted, and from then on even the admin is locked out of PutKeyPolicy.
  EXPECT_EQ(ErrorOf("PutKeyPolicy",
                    {{"KeyId", key}, {"Policy", lockout}, {"BypassPolicyLockoutSafetyCheck", true}},
                    admin()),
            "");
  EXPECT_EQ(ErrorOf("PutKeyPolicy", {{"KeyId", key}, {"Policy", lockout}}, admin()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("CreateKey", {{"Policy", lockout}, {"BypassPolicyLockoutSafetyCheck", true}},
                    admin()),
            "");
}

TEST_F(KmsServiceTest, AccessDeniedMessagesHaveAwsShape) {
  std::string key = CreateKey();
  const std::string arn = "arn:aws:kms:us-east-1:111122223333:key/" + key;
  Ok("PutKeyPolicy",
     {{"KeyId", key},
      {"Policy", RecommendedPolicy(admin().arn, identity_->instance_role_arn(), GoodPcr0Hex())}},
     admin());
  AwsResult implicit = Call("DescribeKey", {{"KeyId", key}}, root());
  ASSERT_FALSE(implicit.ok());
  EXPECT_EQ(
      implicit.error().message,
      absl::StrCat("User: arn:aws:iam::111122223333:root is not authorized to perform: "
                   "kms:DescribeKey on resource: ",
                   arn, " because no resource-based policy allows the kms:DescribeKey action"));
  Bytes admin_blob;
  {
    Json enc = Ok("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}}, instance());
    admin_blob = *Base64Decode(enc["CiphertextBlob"].get<std::string>());
  }
  AwsResult explicit_deny =
      Call("Decrypt", {{"CiphertextBlob", Base64Encode(admin_blob)}}, admin());
  ASSERT_FALSE(explicit_deny.ok());
  EXPECT_EQ(explicit_deny.error().message,
            absl::StrCat("User: ", admin().arn,
                         " is not authorized to perform: kms:Decrypt on "
                         "resource: ",
                         arn, " with an explicit deny in a resource-based policy"));
}

// The default key policy allows the account ("Enable IAM User Permissions"), so what is missing
// for the instance role (its policy allows kms:Encrypt only) is an identity-based Allow, and AWS
// says so.
TEST_F(KmsServiceTest, AccessDeniedNamesTheIdentityPolicyWhenTheKeyPolicyDelegatesToIam) {
  std::string key = CreateKey();
  AwsResult denied = Call("DescribeKey", {{"KeyId", key}}, instance());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(
      denied.error().message,
      absl::StrCat("User: ", instance().arn,
                   " is not authorized to perform: kms:DescribeKey on resource: "
                   "arn:aws:kms:us-east-1:111122223333:key/",
                   key, " because no identity-based policy allows the kms:DescribeKey action"));
}

// ---------------------------------------------------------------------------------------------
// Tags

TEST_F(KmsServiceTest, TagsFromCreateKeyAndTagResourceAreListed) {
  std::string key = CreateKey({{"Tags", {{{"TagKey", "team"}, {"TagValue", "custody"}}}}});
  Ok("TagResource",
     {{"KeyId", key},
      {"Tags",
       {{{"TagKey", "env"}, {"TagValue", "dev"}}, {{"TagKey", "team"}, {"TagValue", "keys"}}}}});
  Json t = Ok("ListResourceTags", {{"KeyId", key}});
  EXPECT_EQ(t["Tags"], Json::parse(R"([{"TagKey":"env","TagValue":"dev"},
                                       {"TagKey":"team","TagValue":"keys"}])"));
  EXPECT_EQ(t["Truncated"], false);
  EXPECT_EQ(
      ErrorOf("TagResource", {{"KeyId", key}, {"Tags", {{{"TagKey", "aws:x"}, {"TagValue", ""}}}}}),
      "TagException");
  EXPECT_EQ(ErrorOf("TagResource", {{"KeyId", key}}), "ValidationException");
  EXPECT_EQ(ErrorOf("TagResource", {{"KeyId", key}, {"Tags", {{{"TagKey", "a"}}}}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("TagResource", {{"KeyId", key}, {"Tags", "a=b"}}), "SerializationException");
}

// ---------------------------------------------------------------------------------------------
// Recipient

TEST_F(KmsServiceTest, DecryptWithRecipientReturnsAnEnvelopeAndNoPlaintext) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "the signing key");
  Json r = Ok("Decrypt",
              {{"CiphertextBlob", Base64Encode(blob)}, {"Recipient", Recipient(GoodDocument())}});
  EXPECT_FALSE(r.contains("Plaintext"));
  EXPECT_EQ(OpenEnvelope(r), "the signing key");
  EXPECT_EQ(r["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);
}

TEST_F(KmsServiceTest, GenerateDataKeyAndGenerateRandomWithRecipientReturnEnvelopes) {
  std::string key = CreateKey();
  Json g = Ok("GenerateDataKey",
              {{"KeyId", key}, {"KeySpec", "AES_256"}, {"Recipient", Recipient(GoodDocument())}});
  EXPECT_FALSE(g.contains("Plaintext"));
  std::string data_key = OpenEnvelope(g);
  EXPECT_EQ(data_key.size(), 32u);
  Json dec = Ok("Decrypt", {{"CiphertextBlob", g["CiphertextBlob"]}});
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes(data_key)));

  Json r = Ok("GenerateRandom", {{"NumberOfBytes", 48}, {"Recipient", Recipient(GoodDocument())}});
  EXPECT_FALSE(r.contains("Plaintext"));
  EXPECT_EQ(OpenEnvelope(r).size(), 48u);
}

TEST_F(KmsServiceTest, AnUntrustedDocumentUnderAnAllowingPolicyIsValidationException) {
  std::string key = CreateKey();  // default policy: root may decrypt
  const std::string blob = Base64Encode(EncryptBlob(key, "x"));
  Bytes tampered = attest::testing::FlipBit(GoodDocument(), 200);
  std::vector<std::pair<std::string, Bytes>> cases = {
      {"tampered", tampered},
      {"foreign root", Document({{0, Pcr(0xa1)}}, foreign_.get())},
      {"stale", Document({{0, Pcr(0xa1)}}, nullptr, kStart - absl::Minutes(6))},
      {"from the future", Document({{0, Pcr(0xa1)}}, nullptr, kStart + absl::Minutes(6))},
      {"not a document", ToBytes("hello")},
  };
  for (const auto& [name, doc] : cases) {
    AwsResult r = Call("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", Recipient(doc)}});
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().type, "ValidationException") << name;
  }
  // Within the freshness window in both directions: fine.
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob},
                                {"Recipient", Recipient(Document({{0, Pcr(0xa1)}}, nullptr,
                                                                 kStart - absl::Minutes(4)))}}),
            "");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob},
                                {"Recipient", Recipient(Document({{0, Pcr(0xa1)}}, nullptr,
                                                                 kStart + absl::Minutes(4)))}}),
            "");
}

TEST_F(KmsServiceTest, ADocumentWithoutPublicKeyIsValidationExceptionOnlyAfterAuthorisation) {
  std::string key = CreateKey();
  const std::string blob = Base64Encode(EncryptBlob(key, "x"));
  Bytes no_key = Document({{0, Pcr(0xa1)}}, nullptr, std::nullopt, /*with_key=*/false);
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", Recipient(no_key)}}),
            "ValidationException");
  Ok("PutKeyPolicy",
     {{"KeyId", key},
      {"Policy", SeedPolicy(admin().arn, identity_->instance_role_arn(), GoodPcr0Hex())}},
     admin());
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", Recipient(no_key)}}, admin()),
      "AccessDeniedException");
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", Recipient(no_key)}}, instance()),
      "ValidationException");
}

TEST_F(KmsServiceTest, RecipientFieldsAreValidated) {
  std::string key = CreateKey();
  const std::string blob = Base64Encode(EncryptBlob(key, "x"));
  const std::string doc = Base64Encode(GoodDocument());
  EXPECT_EQ(
      ErrorOf("Decrypt",
              {{"CiphertextBlob", blob},
               {"Recipient",
                {{"AttestationDocument", doc}, {"KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_1"}}}}),
      "ValidationException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob},
                                {"Recipient", {{"KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256"}}}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", "doc"}}),
            "SerializationException");
  EXPECT_EQ(ErrorOf("Decrypt",
                    {{"CiphertextBlob", blob}, {"Recipient", {{"AttestationDocument", "!!!"}}}}),
            "SerializationException");
  // Absent algorithm: the only valid one is implied.
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", blob}, {"Recipient", {{"AttestationDocument", doc}}}}),
      "");
}

// The lock-out truth table at unit level (issue 3 item 9; the integration test runs the same
// table against a real local-aws).
enum class Doc { kNone, kRight, kWrongPcr0, kDebug, kTampered, kExpired, kForeignRoot };

struct TruthCase {
  std::string name;
  std::string principal;  // root, admin, instance
  Doc doc;
  bool allowed;
};

class KmsLockoutTruthTableTest : public KmsServiceTest,
                                 public ::testing::WithParamInterface<bool> {};

TEST_P(KmsLockoutTruthTableTest, OnlyTheInstanceRoleWithTheRightEnclaveDecrypts) {
  const bool recommended = GetParam();
  std::string key = CreateKey({}, &admin());
  Bytes blob = EncryptBlob(key, "the signing key");
  // Upper case, as the CLI may write it: StringEqualsIgnoreCase must still match.
  std::string pcr0 = absl::AsciiStrToUpper(GoodPcr0Hex());
  std::string policy = recommended
                           ? RecommendedPolicy(admin().arn, identity_->instance_role_arn(), pcr0)
                           : SeedPolicy(admin().arn, identity_->instance_role_arn(), pcr0);
  Ok("PutKeyPolicy", {{"KeyId", key}, {"Policy", policy}}, admin());

  const std::vector<TruthCase> cases = {
      {"root", "root", Doc::kNone, false},
      {"admin", "admin", Doc::kNone, false},
      {"instance role without attestation", "instance", Doc::kNone, false},
      {"instance role, document from the right binary", "instance", Doc::kRight, true},
      {"instance role, document from a modified binary", "instance", Doc::kWrongPcr0, false},
      {"instance role, debug-mode enclave", "instance", Doc::kDebug, false},
      {"instance role, tampered document", "instance", Doc::kTampered, false},
      {"instance role, expired document", "instance", Doc::kExpired, false},
      {"instance role, document from a foreign root", "instance", Doc::kForeignRoot, false},
      {"root with the right document", "root", Doc::kRight, false},
      {"admin with the right document", "admin", Doc::kRight, false},
  };
  for (const TruthCase& c : cases) {
    SCOPED_TRACE(c.name);
    clock_.Set(kStart);
    std::optional<Bytes> doc;
    switch (c.doc) {
      case Doc::kNone:
        break;
      case Doc::kRight:
        doc = GoodDocument();
        break;
      case Doc::kWrongPcr0:
        doc = Document({{0, Pcr(0xee)}, {1, Pcr(0xb2)}, {2, Pcr(0xc3)}});
        break;
      case Doc::kDebug:
        doc = Document({{0, Pcr(0)}, {1, Pcr(0)}, {2, Pcr(0)}});
        break;
      case Doc::kTampered:
        doc = attest::testing::FlipBit(GoodDocument(), GoodDocument().size() / 2);
        break;
      case Doc::kExpired:
        doc = GoodDocument();
        clock_.Advance(absl::Hours(4));  // past the leaf certificate and the freshness window
        break;
      case Doc::kForeignRoot:
        doc = Document({{0, Pcr(0xa1)}, {1, Pcr(0xb2)}, {2, Pcr(0xc3)}}, foreign_.get());
        break;
    }
    const policy::Principal& who = c.principal == "root"    ? root()
                                   : c.principal == "admin" ? admin()
                                                            : instance();
    Json body = {{"CiphertextBlob", Base64Encode(blob)}};
    if (doc) body["Recipient"] = Recipient(*doc);
    AwsResult r = Call("Decrypt", body, who);
    if (c.allowed) {
      ASSERT_TRUE(r.ok()) << r.error().type << ": " << r.error().message;
      EXPECT_FALSE(r.value().contains("Plaintext"));
      EXPECT_EQ(OpenEnvelope(r.value()), "the signing key");
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().type, "AccessDeniedException") << r.error().message;
    }
  }
  clock_.Set(kStart);
  // The instance role still encrypts; the admin still administers.
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}}, instance()), "");
  EXPECT_EQ(ErrorOf("DescribeKey", {{"KeyId", key}}, admin()), "");
  EXPECT_EQ(ErrorOf("DisableKey", {{"KeyId", key}}, instance()), "AccessDeniedException");
}

INSTANTIATE_TEST_SUITE_P(SeedAndRecommended, KmsLockoutTruthTableTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Recommended" : "Seed";
                         });

TEST_F(KmsServiceTest, ARealAwsDocumentOutsideItsCertificateWindowIsDenied) {
  LOCKOUT_VECTOR_OR_SKIP(path, "attestation/evervault-nondebug-2022-10-13.cbor");
  Bytes real = testing::ReadTestFile(path);
  KmsOptions options;
  options.state_dir = dir_;
  options.trusted_attestation_roots = {attest::AwsNitroRootG1Der()};
  auto kms = KmsService::Open(options, *identity_, clock_);
  ASSERT_TRUE(kms.ok());
  kms_ = *std::move(kms);
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "x");
  Ok("PutKeyPolicy",
     {{"KeyId", key},
      {"Policy", SeedPolicy(admin().arn, identity_->instance_role_arn(), GoodPcr0Hex())}},
     admin());
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}, {"Recipient", Recipient(real)}},
              instance()),
      "AccessDeniedException");
  // At its own time it verifies, but it is not fresh by then... set the clock to its timestamp:
  // the document is trusted and its PCR0 (not ours) decides: still denied.
  clock_.Set(absl::FromUnixMillis(1665651482136));  // 2022-10-13T08:58:02.136Z
  EXPECT_EQ(
      ErrorOf("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}, {"Recipient", Recipient(real)}},
              instance()),
      "AccessDeniedException");
}

// ---------------------------------------------------------------------------------------------
// Durability

TEST_F(KmsServiceTest, ARestartKeepsKeysAliasesPoliciesTagsAndOldCiphertexts) {
  std::string a =
      CreateKey({{"Description", "first"}, {"Tags", {{{"TagKey", "t"}, {"TagValue", "v"}}}}});
  std::string b = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/first"}, {"TargetKeyId", a}});
  const std::string policy = SeedPolicy(admin().arn, identity_->instance_role_arn(), GoodPcr0Hex());
  Ok("PutKeyPolicy", {{"KeyId", b}, {"Policy", policy}}, admin());
  Bytes blob = EncryptBlob(a, "kept", {{"c", "1"}});
  Ok("DisableKey", {{"KeyId", b}}, admin());
  Ok("ScheduleKeyDeletion", {{"KeyId", b}, {"PendingWindowInDays", 9}}, admin());
  Json before_a = Ok("DescribeKey", {{"KeyId", a}});
  Json before_b = Ok("DescribeKey", {{"KeyId", b}}, admin());

  Reopen();
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", a}}), before_a);
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", b}}, admin()), before_b);
  EXPECT_EQ(Ok("Decrypt", {{"CiphertextBlob", Base64Encode(blob)},
                           {"EncryptionContext", {{"c", "1"}}}})["Plaintext"],
            Base64Encode(AsBytes("kept")));
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", "alias/first"}})["KeyMetadata"]["KeyId"], a);
  EXPECT_EQ(Ok("GetKeyPolicy", {{"KeyId", b}}, admin())["Policy"], policy);
  EXPECT_EQ(Ok("ListResourceTags", {{"KeyId", a}})["Tags"],
            Json::parse(R"([{"TagKey":"t","TagValue":"v"}])"));
  EXPECT_EQ(Ok("ListKeys", Json::object())["Keys"].size(), 2u);
}

TEST_F(KmsServiceTest, KeyFilesAreWrittenOwnerOnlyBeforeTheReply) {
  std::string key = CreateKey();
  const std::string path = dir_ + "/kms/keys/" + key + ".json";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Ok("CreateAlias", {{"AliasName", "alias/x"}, {"TargetKeyId", key}});
  ASSERT_EQ(stat((dir_ + "/kms/aliases.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(KmsServiceTest, ACorruptKeyFileStopsTheServiceFromOpening) {
  std::string key = CreateKey();
  const std::string path = dir_ + "/kms/keys/" + key + ".json";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("{\"Version\": 1}")).ok());
  KmsOptions options;
  options.state_dir = dir_;
  auto kms = KmsService::Open(options, *identity_, clock_);
  ASSERT_FALSE(kms.ok());
  EXPECT_THAT(std::string(kms.status().message()), HasSubstr(key));
}

TEST_F(KmsServiceTest, ConcurrentWritesToOneKeyLoseNothing) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "shared");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string tag = absl::StrCat("t", t, "-", i);
        AwsResult r =
            Call("TagResource", {{"KeyId", key}, {"Tags", {{{"TagKey", tag}, {"TagValue", "v"}}}}});
        EXPECT_TRUE(r.ok());
        AwsResult d = Call("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}});
        EXPECT_TRUE(d.ok());
        if (t == 0 && i == kPerThread / 2) {
          EXPECT_TRUE(Call("DisableKey", {{"KeyId", "not-a-key"}}).error().type ==
                      "NotFoundException");
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  // kThreads * kPerThread = 40 tags, under the 50-tag limit; all of them survive a restart.
  Reopen();
  EXPECT_EQ(Ok("ListResourceTags", {{"KeyId", key}})["Tags"].size(),
            static_cast<size_t>(kThreads * kPerThread));
}

// ---------------------------------------------------------------------------------------------
// Bad input and secrets

struct BadInput {
  std::string op;
  std::string body;  // JSON
  std::string type;
};

TEST_F(KmsServiceTest, BadInputGetsAwsShapedErrors) {
  std::string key = CreateKey();
  const std::string k = "\"" + key + "\"";
  const std::vector<BadInput> cases = {
      {"Encrypt", R"({"Plaintext": "AAAA"})", "ValidationException"},
      {"Encrypt", R"({"KeyId": 5, "Plaintext": "AAAA"})", "SerializationException"},
      {"Encrypt", "{\"KeyId\": " + k + "}", "ValidationException"},
      {"Encrypt", "{\"KeyId\": " + k + ", \"Plaintext\": \"not base64!\"}",
       "SerializationException"},
      {"Encrypt",
       "{\"KeyId\": " + k + ", \"Plaintext\": \"AAAA\", \"EncryptionContext\": {\"a\": 1}}",
       "SerializationException"},
      {"Encrypt", "{\"KeyId\": " + k + ", \"Plaintext\": \"AAAA\", \"EncryptionContext\": []}",
       "SerializationException"},
      {"Encrypt", R"({"KeyId": "", "Plaintext": "AAAA"})", "ValidationException"},
      {"Encrypt", R"({"KeyId": "nope", "Plaintext": "AAAA"})", "NotFoundException"},
      {"Encrypt", R"({"KeyId": "alias/nope", "Plaintext": "AAAA"})", "NotFoundException"},
      {"Decrypt", R"({"CiphertextBlob": "AAAA"})", "InvalidCiphertextException"},
      {"Decrypt", R"({})", "ValidationException"},
      {"Decrypt", R"({"CiphertextBlob": 1})", "SerializationException"},
      {"DescribeKey", R"({"KeyId": "arn:aws:kms:us-east-1:1:key"})", "NotFoundException"},
      {"DescribeKey", R"({"KeyId": "arn:aws:kms:us-east-1:111122223333:key/xyz"})",
       "NotFoundException"},
      {"DescribeKey",
       R"({"KeyId": "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"})",
       "NotFoundException"},
      {"DescribeKey", R"({"KeyId": "arn:aws:s3:::bucket"})", "NotFoundException"},
      {"DescribeKey", R"({"KeyId": "11111111-2222-3333-4444-555555555555"})", "NotFoundException"},
      {"DescribeKey", R"({"KeyId": "11111111-2222-3333-4444-55555555555g"})", "NotFoundException"},
      {"DescribeKey", R"({"KeyId": ["a"]})", "SerializationException"},
      {"DisableKey", R"({"KeyId": "alias/x"})", "NotFoundException"},
      {"ScheduleKeyDeletion", "{\"KeyId\": " + k + ", \"PendingWindowInDays\": \"7\"}",
       "SerializationException"},
      {"CreateKey", R"({"Description": 5})", "SerializationException"},
      {"CreateKey", R"({"BypassPolicyLockoutSafetyCheck": "yes"})", "SerializationException"},
      {"CreateKey", R"({"Tags": [{"TagKey": 1, "TagValue": "v"}]})", "SerializationException"},
      {"ListKeys", R"({"Limit": 1.5})", "SerializationException"},
      {"GenerateDataKey", "{\"KeyId\": " + k + ", \"NumberOfBytes\": -1}", "ValidationException"},
      {"NoSuchOperation", R"({})", "UnknownOperationException"},
  };
  for (const BadInput& c : cases) {
    auto body = ParseJson(c.body);
    ASSERT_TRUE(body.ok()) << c.body;
    AwsResult r = Call(c.op, *body);
    ASSERT_FALSE(r.ok()) << c.op << " " << c.body;
    EXPECT_EQ(r.error().type, c.type) << c.op << " " << c.body << ": " << r.error().message;
    EXPECT_EQ(r.error().status, 400);
  }
}

TEST_F(KmsServiceTest, PlaintextsAndKeyMaterialNeverReachTheLogOrErrors) {
  std::ostringstream log;
  Logger::Default().SetStream(&log);
  const std::string canary = "CANARY-7f3a9c-secret-plaintext";
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, canary, {{"ctx", "1"}});
  std::vector<std::string> errors;
  Ok("Decrypt", {{"CiphertextBlob", Base64Encode(blob)}, {"EncryptionContext", {{"ctx", "1"}}}});
  Ok("Decrypt", {{"CiphertextBlob", Base64Encode(blob)},
                 {"EncryptionContext", {{"ctx", "1"}}},
                 {"Recipient", Recipient(GoodDocument())}});
  for (const Json& body :
       {Json{{"CiphertextBlob", Base64Encode(blob)}},
        Json{{"CiphertextBlob", Base64Encode(blob)},
             {"EncryptionContext", {{"ctx", "1"}}},
             {"Recipient", Recipient(attest::testing::FlipBit(GoodDocument(), 300))}},
        Json{{"KeyId", key}, {"Plaintext", Base64Encode(Bytes(5000, 'C'))}}}) {
    AwsResult r = Call(body.contains("Plaintext") ? "Encrypt" : "Decrypt", body, instance());
    if (!r.ok()) errors.push_back(r.error().message);
  }
  Logger::Default().SetStream(nullptr);

  auto file = ReadFileString(dir_ + "/kms/keys/" + key + ".json");
  ASSERT_TRUE(file.ok());
  const std::string material_b64 = Json::parse(*file)["KeyMaterial"];
  auto material = Base64Decode(material_b64);
  ASSERT_TRUE(material.ok());
  ASSERT_EQ(material->size(), 32u);
  const std::vector<std::string> secrets = {canary, Base64Encode(AsBytes(canary)),
                                            HexEncode(AsBytes(canary)), material_b64,
                                            HexEncode(*material)};
  EXPECT_THAT(log.str(), HasSubstr("kms_authorization"));  // the log did capture something
  for (const std::string& s : secrets) {
    EXPECT_THAT(log.str(), Not(HasSubstr(s)));
    for (const std::string& e : errors) EXPECT_THAT(e, Not(HasSubstr(s)));
  }
}

// ---------------------------------------------------------------------------------------------
// Grants (issue 10 item 4)

class KmsGrantTest : public KmsServiceTest {
 protected:
  // A key whose policy is the seed tutorial's (no Deny: the admin has only administrative
  // actions, so any Decrypt/ReEncrypt it gets comes from a grant) or the recommended one.
  std::string PolicyKey(bool recommended) {
    std::string key = CreateKey();
    const std::string role = identity_->instance_role_arn();
    Ok("PutKeyPolicy",
       {{"KeyId", key},
        {"Policy", recommended ? RecommendedPolicy(admin().arn, role, GoodPcr0Hex())
                               : SeedPolicy(admin().arn, role, GoodPcr0Hex())}},
       admin());
    return key;
  }
  // CreateGrant as `who` (the admin unless given); returns {GrantId, GrantToken}.
  Json Grant(const std::string& key, const std::string& grantee, const Json& ops,
             const Json& extra = Json::object(), const policy::Principal* who = nullptr) {
    Json body = extra;
    body["KeyId"] = key;
    body["GranteePrincipal"] = grantee;
    body["Operations"] = ops;
    return Ok("CreateGrant", body, who ? *who : admin());
  }
  std::string Role() const { return identity_->instance_role_arn(); }
  Bytes EncryptAs(const std::string& key, std::string_view plaintext, const Json& context,
                  const policy::Principal& who) {
    return EncryptBlob(key, plaintext, context, &who);
  }
  Json DecryptBody(const Bytes& blob, const Json& context = nullptr, const Json& tokens = nullptr) {
    Json body = {{"CiphertextBlob", Base64Encode(blob)}};
    if (!context.is_null()) body["EncryptionContext"] = context;
    if (!tokens.is_null()) body["GrantTokens"] = tokens;
    return body;
  }
};

TEST_F(KmsGrantTest, CreateGrantReturnsIdAndTokenAndListGrantsShowsAwsShapedEntries) {
  std::string key = CreateKey();
  Json g = Grant(key, Role(), {"Decrypt", "Encrypt", "Decrypt"},
                 {{"Name", "relay-grant"},
                  {"RetiringPrincipal", admin().arn},
                  {"Constraints", {{"EncryptionContextSubset", {{"app", "lockout"}}}}}});
  const std::string id = g["GrantId"];
  EXPECT_TRUE(IsKmsGrantId(id)) << id;
  EXPECT_EQ(KmsGrantIdFromToken(g["GrantToken"].get<std::string>()), id);
  Json list = Ok("ListGrants", {{"KeyId", key}}, admin());
  ASSERT_EQ(list["Grants"].size(), 1u);
  EXPECT_EQ(list["Truncated"], false);
  const Json& e = list["Grants"][0];
  EXPECT_EQ(e["KeyId"], "arn:aws:kms:us-east-1:111122223333:key/" + key);
  EXPECT_EQ(e["GrantId"], id);
  EXPECT_EQ(e["Name"], "relay-grant");
  EXPECT_DOUBLE_EQ(e["CreationDate"].get<double>(), 1'700'000'000.0);
  EXPECT_EQ(e["GranteePrincipal"], Role());
  EXPECT_EQ(e["RetiringPrincipal"], admin().arn);
  EXPECT_EQ(e["IssuingAccount"], "arn:aws:iam::111122223333:root");
  EXPECT_EQ(e["Operations"], Json::array({"Decrypt", "Encrypt"}));  // duplicates dropped
  EXPECT_EQ(e["Constraints"], Json({{"EncryptionContextSubset", {{"app", "lockout"}}}}));
  // Without optional fields, they are absent (as AWS).
  Json g2 = Grant(key, admin().arn, {"DescribeKey"});
  Json only = Ok("ListGrants", {{"KeyId", key}, {"GrantId", g2["GrantId"]}});
  ASSERT_EQ(only["Grants"].size(), 1u);
  EXPECT_FALSE(only["Grants"][0].contains("Name"));
  EXPECT_FALSE(only["Grants"][0].contains("RetiringPrincipal"));
  EXPECT_FALSE(only["Grants"][0].contains("Constraints"));
  Json by_grantee = Ok("ListGrants", {{"KeyId", key}, {"GranteePrincipal", Role()}});
  ASSERT_EQ(by_grantee["Grants"].size(), 1u);
  EXPECT_EQ(by_grantee["Grants"][0]["GrantId"], id);
  // Paging: Limit 1 gives a marker that leads to the other grant.
  Json p1 = Ok("ListGrants", {{"KeyId", key}, {"Limit", 1}});
  ASSERT_EQ(p1["Truncated"], true);
  Json p2 = Ok("ListGrants", {{"KeyId", key}, {"Limit", 1}, {"Marker", p1["NextMarker"]}});
  ASSERT_EQ(p2["Grants"].size(), 1u);
  EXPECT_NE(p1["Grants"][0]["GrantId"], p2["Grants"][0]["GrantId"]);
  EXPECT_EQ(ErrorOf("ListGrants", {{"KeyId", key}, {"Limit", 101}}), "ValidationException");
  // ListGrants needs kms:ListGrants: the instance role's identity policy lacks it.
  EXPECT_EQ(ErrorOf("ListGrants", {{"KeyId", key}}, instance()), "AccessDeniedException");
  // ListRetirableGrants: by retiring principal, decided by identity policies.
  Json retirable = Ok("ListRetirableGrants", {{"RetiringPrincipal", admin().arn}}, admin());
  ASSERT_EQ(retirable["Grants"].size(), 1u);
  EXPECT_EQ(retirable["Grants"][0]["GrantId"], id);
  EXPECT_EQ(ErrorOf("ListRetirableGrants", {{"RetiringPrincipal", admin().arn}}, instance()),
            "AccessDeniedException");
}

TEST_F(KmsGrantTest, AGrantAllowsOnlyItsGranteeAndItsOperations) {
  std::string key = PolicyKey(/*recommended=*/false);
  const Json ctx = {{"k", "v"}};
  Bytes blob = EncryptAs(key, "the key", ctx, instance());
  // Seed policy: the admin has administrative actions only (no Decrypt, no GenerateDataKey*).
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, ctx), admin()), "AccessDeniedException");
  Json g = Grant(key, admin().arn, {"Decrypt"});
  Json dec = Ok("Decrypt", DecryptBody(blob, ctx, Json::array({g["GrantToken"]})), admin());
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes("the key")));
  // No token needed: grants apply at once in local-aws.
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, ctx), admin()), "");
  // Not an operation of the grant.
  EXPECT_EQ(ErrorOf("GenerateDataKey", {{"KeyId", key}, {"KeySpec", "AES_256"}}, admin()),
            "AccessDeniedException");
  // Not the grantee: root (not in the policy at all) gets nothing from the admin's grant.
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, ctx), root()), "AccessDeniedException");
  Grant(key, admin().arn, {"GenerateDataKeyWithoutPlaintext", "Encrypt"});
  EXPECT_EQ(
      ErrorOf("GenerateDataKeyWithoutPlaintext", {{"KeyId", key}, {"KeySpec", "AES_256"}}, admin()),
      "");
  // A grant to the role covers its sessions (the instance principal): the seed policy allows
  // the role no Decrypt without attestation, the grant does.
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, ctx), instance()), "AccessDeniedException");
  Grant(key, Role(), {"Decrypt"});
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, ctx), instance()), "");
}

TEST_F(KmsGrantTest, ConstraintsRestrictTheEncryptionContext) {
  std::string key = PolicyKey(/*recommended=*/false);
  const Json ctx = {{"app", "lockout"}, {"Purpose", "sign"}};
  Bytes exact = EncryptAs(key, "x", ctx, instance());
  Bytes extra =
      EncryptAs(key, "x", {{"app", "lockout"}, {"Purpose", "sign"}, {"n", "1"}}, instance());
  Bytes other_case = EncryptAs(key, "x", {{"app", "LOCKOUT"}, {"Purpose", "sign"}}, instance());
  Bytes none = EncryptAs(key, "x", nullptr, instance());

  Json eq =
      Grant(key, admin().arn, {"Decrypt"}, {{"Constraints", {{"EncryptionContextEquals", ctx}}}});
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(exact, ctx), admin()), "");
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(extra, {{"app", "lockout"}, {"Purpose", "sign"}, {"n", "1"}}),
              admin()),
      "AccessDeniedException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(other_case, {{"app", "LOCKOUT"}, {"Purpose", "sign"}}),
                    admin()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(none), admin()), "AccessDeniedException");
  Ok("RevokeGrant", {{"KeyId", key}, {"GrantId", eq["GrantId"]}}, admin());

  Grant(key, admin().arn, {"Decrypt"},
        {{"Constraints", {{"EncryptionContextSubset", {{"app", "lockout"}}}}}});
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(exact, ctx), admin()), "");
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(extra, {{"app", "lockout"}, {"Purpose", "sign"}, {"n", "1"}}),
              admin()),
      "");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(other_case, {{"app", "LOCKOUT"}, {"Purpose", "sign"}}),
                    admin()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(none), admin()), "AccessDeniedException");
}

TEST_F(KmsGrantTest, ReEncryptNeedsReEncryptFromOnTheSourceAndReEncryptToOnTheDestination) {
  std::string src = PolicyKey(/*recommended=*/false);
  std::string dst = PolicyKey(/*recommended=*/false);
  const Json ctx = {{"s", "1"}};
  Bytes blob = EncryptAs(src, "secret", ctx, instance());
  Json body = {{"CiphertextBlob", Base64Encode(blob)},
               {"SourceEncryptionContext", ctx},
               {"DestinationKeyId", dst},
               {"DestinationEncryptionContext", {{"d", "2"}}}};
  EXPECT_EQ(ErrorOf("ReEncrypt", body, admin()), "AccessDeniedException");
  Json from = Grant(src, admin().arn, {"ReEncryptFrom"},
                    {{"Constraints", {{"EncryptionContextSubset", ctx}}}});
  EXPECT_EQ(ErrorOf("ReEncrypt", body, admin()), "AccessDeniedException");  // no ReEncryptTo
  // The destination constraint is checked against the destination context.
  Json to = Grant(dst, admin().arn, {"ReEncryptTo"},
                  {{"Constraints", {{"EncryptionContextEquals", {{"d", "3"}}}}}});
  EXPECT_EQ(ErrorOf("ReEncrypt", body, admin()), "AccessDeniedException");
  Grant(dst, admin().arn, {"ReEncryptTo", "Decrypt"},
        {{"Constraints", {{"EncryptionContextEquals", {{"d", "2"}}}}}});
  body["GrantTokens"] = {from["GrantToken"], to["GrantToken"]};
  Json out = Ok("ReEncrypt", body, admin());
  Json dec = Ok("Decrypt",
                DecryptBody(*Base64Decode(out["CiphertextBlob"].get<std::string>()), {{"d", "2"}}),
                admin());
  EXPECT_EQ(dec["Plaintext"], Base64Encode(AsBytes("secret")));
}

TEST_F(KmsGrantTest, AnExplicitDenyInTheKeyPolicyBeatsEveryGrant) {
  std::string key = PolicyKey(/*recommended=*/true);
  const Json ctx = {{"lockout:secret", "k"}};
  Bytes blob = EncryptAs(key, "signing key", ctx, instance());
  for (const policy::Principal* who : {&admin(), &instance()}) {
    const std::string grantee = who == &admin() ? admin().arn : Role();
    Json g = Grant(key, grantee, {"Decrypt"});
    AwsResult r = Call("Decrypt", DecryptBody(blob, ctx, Json::array({g["GrantToken"]})), *who);
    ASSERT_FALSE(r.ok()) << who->arn;
    EXPECT_EQ(r.error().type, "AccessDeniedException");
    EXPECT_THAT(r.error().message, HasSubstr("explicit deny in a resource-based policy"));
    // A document from a wrong image: still the Deny.
    Json wrong = DecryptBody(blob, ctx, Json::array({g["GrantToken"]}));
    wrong["Recipient"] = Recipient(Document({{0, Pcr(0x99)}}));
    EXPECT_EQ(ErrorOf("Decrypt", wrong, *who), "AccessDeniedException");
  }
  // With the pinned image's document the Deny does not apply, and the admin's grant lets it
  // receive the plaintext only inside the envelope for the attested key.
  Json pinned = DecryptBody(blob, ctx);
  pinned["Recipient"] = Recipient(GoodDocument());
  Json env = Ok("Decrypt", pinned, admin());
  EXPECT_FALSE(env.contains("Plaintext"));
  EXPECT_EQ(OpenEnvelope(env), "signing key");
}

TEST_F(KmsGrantTest, AGrantToTheAccountDelegatesToIdentityPolicies) {
  std::string key = PolicyKey(/*recommended=*/false);
  Bytes blob = EncryptAs(key, "x", nullptr, instance());
  Grant(key, "arn:aws:iam::111122223333:root", {"Decrypt"});
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob), admin()), "");  // kms:* in IAM
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob), instance()),
            "AccessDeniedException");  // its identity policy has only kms:Encrypt
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob), root()), "");
}

TEST_F(KmsGrantTest, GrantTokensAreValidated) {
  std::string key = CreateKey();
  Bytes blob = EncryptBlob(key, "x");
  Json g = Grant(key, Role(), {"Decrypt"});
  const std::string bad = Base64Encode(AsBytes("not a token"));
  Json with_bad = DecryptBody(blob, nullptr, {g["GrantToken"], bad});
  EXPECT_EQ(ErrorOf("Decrypt", with_bad), "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("Encrypt", {{"KeyId", key}, {"Plaintext", "AA=="}, {"GrantTokens", {bad}}}),
            "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("DescribeKey", {{"KeyId", key}, {"GrantTokens", {"%%%"}}}),
            "InvalidGrantTokenException");
  EXPECT_EQ(
      ErrorOf("GenerateDataKey", {{"KeyId", key}, {"KeySpec", "AES_256"}, {"GrantTokens", {bad}}}),
      "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("ReEncrypt", {{"CiphertextBlob", Base64Encode(blob)},
                                  {"DestinationKeyId", key},
                                  {"GrantTokens", {bad}}}),
            "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("CreateGrant", {{"KeyId", key},
                                    {"GranteePrincipal", Role()},
                                    {"Operations", {"Decrypt"}},
                                    {"GrantTokens", {bad}}}),
            "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, nullptr, Json::array({""}))),
            "ValidationException");
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(blob, nullptr, Json(std::vector<Json>(11, g["GrantToken"])))),
      "ValidationException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, nullptr, Json::array({1}))),
            "SerializationException");
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, nullptr, "token")), "SerializationException");
  // A token is no credential: a valid token of the role's grant gives the admin nothing more,
  // and a token of a revoked grant gives nothing.
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(blob, nullptr, Json::array({g["GrantToken"]})), instance()),
      "");
  Ok("RevokeGrant", {{"KeyId", key}, {"GrantId", g["GrantId"]}});
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(blob, nullptr, Json::array({g["GrantToken"]})), instance()),
      "AccessDeniedException");
}

TEST_F(KmsGrantTest, CreateGrantValidatesItsInput) {
  std::string key = CreateKey();
  const Json ok = {{"KeyId", key}, {"GranteePrincipal", Role()}, {"Operations", {"Decrypt"}}};
  auto with = [&](const std::string& field, const Json& value) {
    Json b = ok;
    if (value.is_null()) {
      b.erase(field);
    } else {
      b[field] = value;
    }
    return ErrorOf("CreateGrant", b);
  };
  EXPECT_EQ(with("Operations", nullptr), "ValidationException");
  EXPECT_EQ(with("Operations", Json::array()), "ValidationException");
  EXPECT_EQ(with("Operations", {"Decrypt", "Fly"}), "ValidationException");
  EXPECT_EQ(with("Operations", "Decrypt"), "SerializationException");
  EXPECT_EQ(with("Operations", {7}), "SerializationException");
  EXPECT_EQ(with("GranteePrincipal", nullptr), "ValidationException");
  for (const char* p : {"nobody", "arn:aws:iam::1234:root", "arn:aws:s3:::bucket",
                        "arn:aws:iam::111122223333:group/x", "arn:aws:iam::111122223333"}) {
    EXPECT_EQ(with("GranteePrincipal", p), "ValidationException") << p;
    EXPECT_EQ(with("RetiringPrincipal", p), "ValidationException") << p;
  }
  for (const char* p : {"111122223333", "arn:aws:iam::111122223333:root",
                        "arn:aws:iam::111122223333:user/u", "arn:aws:iam::444455556666:role/r",
                        "arn:aws:sts::111122223333:assumed-role/r/s", "ec2.amazonaws.com"}) {
    EXPECT_EQ(with("GranteePrincipal", p), "") << p;
  }
  EXPECT_EQ(with("Name", "has space"), "ValidationException");
  EXPECT_EQ(with("Name", std::string(257, 'n')), "ValidationException");
  EXPECT_EQ(with("Constraints", "x"), "SerializationException");
  EXPECT_EQ(with("Constraints", {{"EncryptionContextSubset", {{"a", 1}}}}),
            "SerializationException");
  EXPECT_EQ(with("Constraints", {{"EncryptionContextSubset", {{"a", "1"}}},
                                 {"EncryptionContextEquals", {{"a", "1"}}}}),
            "ValidationException");
  EXPECT_EQ(with("KeyId", "alias/nope"), "NotFoundException");
  EXPECT_EQ(with("KeyId", "00000000-0000-0000-0000-000000000000"), "NotFoundException");
  EXPECT_EQ(with("DryRun", true), "DryRunOperationException");
  EXPECT_EQ(Ok("ListGrants", {{"KeyId", key}})["Grants"].size(), 6u);  // the accepted ones
  // Key state: disabled refuses, pending deletion refuses.
  Ok("DisableKey", {{"KeyId", key}});
  EXPECT_EQ(with("Name", "n"), "DisabledException");
  Ok("ScheduleKeyDeletion", {{"KeyId", key}, {"PendingWindowInDays", 7}});
  EXPECT_EQ(with("Name", "n"), "KMSInvalidStateException");
  // The instance role may not CreateGrant on a key whose policy delegates to IAM.
  EXPECT_EQ(
      ErrorOf("CreateGrant",
              {{"KeyId", CreateKey()}, {"GranteePrincipal", Role()}, {"Operations", {"Decrypt"}}},
              instance()),
      "AccessDeniedException");
}

TEST_F(KmsGrantTest, ARetryWithTheSameNameReturnsTheSameGrant) {
  std::string key = CreateKey();
  Json a = Grant(key, Role(), {"Decrypt", "Encrypt"}, {{"Name", "n1"}});
  Json b = Grant(key, Role(), {"Encrypt", "Decrypt"}, {{"Name", "n1"}});
  EXPECT_EQ(a["GrantId"], b["GrantId"]);
  Json c = Grant(key, Role(), {"Decrypt"}, {{"Name", "n1"}});  // other parameters: a new grant
  EXPECT_NE(a["GrantId"], c["GrantId"]);
  Json d = Grant(key, Role(), {"Decrypt", "Encrypt"});  // no name: always new
  EXPECT_NE(a["GrantId"], d["GrantId"]);
  EXPECT_EQ(Ok("ListGrants", {{"KeyId", key}})["Grants"].size(), 3u);
}

TEST_F(KmsGrantTest, GrantConditionKeysReachTheKeyPolicy) {
  std::string key = CreateKey();
  Json policy = {
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Sid", "Root"},
         {"Effect", "Allow"},
         {"Principal", {{"AWS", "arn:aws:iam::111122223333:root"}}},
         {"Action", "kms:*"},
         {"Resource", "*"}},
        {{"Sid", "OnlyEncryptGrantsToTheRole"},
         {"Effect", "Deny"},
         {"Principal", "*"},
         {"Action", "kms:CreateGrant"},
         {"Resource", "*"},
         {"Condition", {{"ForAnyValue:StringNotEquals", {{"kms:GrantOperations", {"Encrypt"}}}}}}},
        {{"Sid", "NoGrantsForAwsResources"},
         {"Effect", "Deny"},
         {"Principal", "*"},
         {"Action", "kms:CreateGrant"},
         {"Resource", "*"},
         {"Condition", {{"Bool", {{"kms:GrantIsForAWSResource", "true"}}}}}},
        {{"Sid", "GranteeMustBeTheRole"},
         {"Effect", "Deny"},
         {"Principal", "*"},
         {"Action", "kms:CreateGrant"},
         {"Resource", "*"},
         {"Condition", {{"StringNotEquals", {{"kms:GranteePrincipal", Role()}}}}}}}}};
  Ok("PutKeyPolicy", {{"KeyId", key}, {"Policy", policy.dump()}});
  EXPECT_EQ(
      ErrorOf("CreateGrant",
              {{"KeyId", key}, {"GranteePrincipal", Role()}, {"Operations", {"Encrypt"}}}, admin()),
      "");
  EXPECT_EQ(ErrorOf("CreateGrant",
                    {{"KeyId", key},
                     {"GranteePrincipal", Role()},
                     {"Operations", {"Encrypt", "ReEncryptFrom"}}},
                    admin()),
            "AccessDeniedException");
  EXPECT_EQ(
      ErrorOf("CreateGrant",
              {{"KeyId", key}, {"GranteePrincipal", admin().arn}, {"Operations", {"Encrypt"}}},
              admin()),
      "AccessDeniedException");
}

TEST_F(KmsGrantTest, AGranteeWithCreateGrantMayOnlyCreateNarrowerGrants) {
  std::string key = PolicyKey(/*recommended=*/false);
  // The role gets CreateGrant + Decrypt under a subset constraint.
  Grant(key, Role(), {"CreateGrant", "Decrypt"},
        {{"Constraints", {{"EncryptionContextSubset", {{"t", "1"}}}}}});
  auto create = [&](const Json& ops, const Json& constraints) {
    Json body = {{"KeyId", key}, {"GranteePrincipal", Role()}, {"Operations", ops}};
    if (!constraints.is_null()) body["Constraints"] = constraints;
    return ErrorOf("CreateGrant", body, instance());
  };
  EXPECT_EQ(create({"Decrypt"}, {{"EncryptionContextSubset", {{"t", "1"}, {"u", "2"}}}}), "");
  EXPECT_EQ(create({"Decrypt"}, {{"EncryptionContextEquals", {{"t", "1"}}}}), "");
  EXPECT_EQ(create({"Decrypt"}, nullptr), "AccessDeniedException");  // drops the constraint
  EXPECT_EQ(create({"Decrypt"}, {{"EncryptionContextSubset", {{"t", "2"}}}}),
            "AccessDeniedException");
  EXPECT_EQ(create({"ReEncryptFrom"}, {{"EncryptionContextSubset", {{"t", "1"}}}}),
            "AccessDeniedException");  // an operation the parent lacks
}

TEST_F(KmsGrantTest, RevokeGrantNeedsKmsRevokeGrant) {
  std::string key = CreateKey();
  Json g = Grant(key, Role(), {"Decrypt"});
  const std::string id = g["GrantId"];
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", id}}, instance()),
            "AccessDeniedException");
  // Authorisation comes first: an unauthorised caller cannot tell which ids exist.
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", std::string(64, 'a')}}, instance()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", "xyz"}}),
            "InvalidGrantIdException");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", std::string(64, 'a')}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}}), "ValidationException");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", CreateKey()}, {"GrantId", id}}),
            "NotFoundException");  // a grant id of another key
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", id}, {"DryRun", true}}),
            "DryRunOperationException");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", id}}, admin()), "");
  EXPECT_EQ(ErrorOf("RevokeGrant", {{"KeyId", key}, {"GrantId", id}}), "NotFoundException");
  EXPECT_TRUE(Ok("ListGrants", {{"KeyId", key}})["Grants"].empty());
}

TEST_F(KmsGrantTest, RetireGrantFollowsAwsRules) {
  std::string key = PolicyKey(/*recommended=*/false);
  // Grantee without RetireGrant, retiring principal = admin.
  Json g1 = Grant(key, Role(), {"Encrypt"}, {{"RetiringPrincipal", admin().arn}});
  // Grantee with RetireGrant.
  Json g2 = Grant(key, Role(), {"Encrypt", "RetireGrant"});
  // Issued by the account: root may retire anything.
  Json g3 = Grant(key, Role(), {"Encrypt"});

  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g1["GrantToken"]}}, instance()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g2["GrantToken"]}}, instance()), "");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"KeyId", key}, {"GrantId", g1["GrantId"]}}, admin()), "");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"KeyId", key}, {"GrantId", g3["GrantId"]}}, instance()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g3["GrantToken"]}}, root()), "");
  EXPECT_TRUE(Ok("ListGrants", {{"KeyId", key}}, admin())["Grants"].empty());

  // Errors.
  EXPECT_EQ(ErrorOf("RetireGrant", Json::object()), "ValidationException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"KeyId", key}}), "ValidationException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", "garbage"}}), "InvalidGrantTokenException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g1["GrantToken"]}}), "NotFoundException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"KeyId", key}, {"GrantId", "short"}}),
            "InvalidGrantIdException");
  Json g4 = Grant(key, Role(), {"Encrypt"});
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g4["GrantToken"]}, {"GrantId", g1["GrantId"]}}),
            "InvalidGrantIdException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"KeyId", CreateKey()}, {"GrantId", g4["GrantId"]}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("RetireGrant", {{"GrantToken", g4["GrantToken"]}, {"DryRun", true}}),
            "DryRunOperationException");
}

TEST_F(KmsGrantTest, GrantsSurviveARestartAndCorruptGrantFilesStopTheService) {
  std::string key = PolicyKey(/*recommended=*/false);
  Bytes blob = EncryptAs(key, "durable", {{"c", "1"}}, instance());
  Json g = Grant(key, admin().arn, {"Decrypt"},
                 {{"Name", "n"}, {"Constraints", {{"EncryptionContextEquals", {{"c", "1"}}}}}});
  const std::string path = dir_ + "/kms/grants/" + key + ".json";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Json before = Ok("ListGrants", {{"KeyId", key}}, admin());
  Reopen();
  EXPECT_EQ(Ok("ListGrants", {{"KeyId", key}}, admin()), before);
  EXPECT_EQ(
      ErrorOf("Decrypt", DecryptBody(blob, {{"c", "1"}}, Json::array({g["GrantToken"]})), admin()),
      "");
  Ok("RevokeGrant", {{"KeyId", key}, {"GrantId", g["GrantId"]}}, admin());
  Reopen();
  EXPECT_EQ(ErrorOf("Decrypt", DecryptBody(blob, {{"c", "1"}}), admin()), "AccessDeniedException");

  // Corrupt files: Open fails naming the file.
  Grant(key, admin().arn, {"Decrypt"});
  auto text = ReadFileString(path);
  ASSERT_TRUE(text.ok());
  for (const std::string& bad :
       {std::string("{"), std::string(R"({"Version": 1, "Grants": [{"GrantId": "x"}]})"),
        absl::StrCat(R"({"Version": 2, "Grants": []})")}) {
    ASSERT_TRUE(WriteFileAtomic(path, AsBytes(bad), 0600).ok());
    kms_.reset();
    KmsOptions options;
    options.state_dir = dir_;
    auto reopened = KmsService::Open(options, *identity_, clock_);
    ASSERT_FALSE(reopened.ok()) << bad;
    EXPECT_THAT(reopened.status().message(), HasSubstr(path));
  }
  // A grant file of a key that does not exist.
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes(*text), 0600).ok());
  const std::string orphan = dir_ + "/kms/grants/00000000-0000-0000-0000-000000000000.json";
  ASSERT_TRUE(WriteFileAtomic(orphan, AsBytes(*text), 0600).ok());
  {
    KmsOptions options;
    options.state_dir = dir_;
    EXPECT_FALSE(KmsService::Open(options, *identity_, clock_).ok());
  }
  std::filesystem::remove(orphan);
  Reopen();
  EXPECT_EQ(Ok("ListGrants", {{"KeyId", key}}, admin())["Grants"].size(), 1u);
}

TEST_F(KmsGrantTest, ConcurrentGrantChangesLoseNothing) {
  std::string key = PolicyKey(/*recommended=*/false);
  Bytes blob = EncryptAs(key, "x", nullptr, instance());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Each thread creates two grants and revokes one, while decrypting through a grant.
        AwsResult keep = Call("CreateGrant",
                              {{"KeyId", key},
                               {"GranteePrincipal", admin().arn},
                               {"Operations", {"Decrypt"}},
                               {"Name", absl::StrCat("t", t, "-", i)}},
                              admin());
        AwsResult drop = Call(
            "CreateGrant",
            {{"KeyId", key}, {"GranteePrincipal", Role()}, {"Operations", {"Encrypt"}}}, admin());
        ASSERT_TRUE(keep.ok() && drop.ok());
        EXPECT_TRUE(
            Call("RevokeGrant", {{"KeyId", key}, {"GrantId", drop.value()["GrantId"]}}, admin())
                .ok());
        EXPECT_TRUE(Call("Decrypt", DecryptBody(blob), admin()).ok());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  Reopen();
  Json grants = Ok("ListGrants", {{"KeyId", key}, {"Limit", 100}}, admin());
  EXPECT_EQ(grants["Grants"].size(), static_cast<size_t>(kThreads * kPerThread));
  for (const Json& g : grants["Grants"]) EXPECT_EQ(g["GranteePrincipal"], admin().arn);
}

// ---------------------------------------------------------------------------------------------
// UpdateAlias / DeleteAlias

TEST_F(KmsGrantTest, UpdateAliasMovesTheAliasWithAwsAuthorisation) {
  std::string a = CreateKey();
  std::string b = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", a}});
  Ok("UpdateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", b}}, admin());
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", "alias/app"}})["KeyMetadata"]["KeyId"], b);
  Json listed = Ok("ListAliases", {{"KeyId", b}});
  ASSERT_EQ(listed["Aliases"].size(), 1u);
  EXPECT_EQ(listed["Aliases"][0]["AliasName"], "alias/app");
  Reopen();  // durable
  EXPECT_EQ(Ok("DescribeKey", {{"KeyId", "alias/app"}})["KeyMetadata"]["KeyId"], b);

  // Errors.
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/none"}, {"TargetKeyId", a}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/app"},
                                    {"TargetKeyId", "00000000-0000-0000-0000-000000000000"}}),
            "NotFoundException");
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", "alias/app"}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "app"}, {"TargetKeyId", a}}),
            "ValidationException");
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/aws/s3"}, {"TargetKeyId", a}}),
            "NotAuthorizedException");
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/app"}}), "ValidationException");
  // The instance role: no kms:UpdateAlias in its identity policy.
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", a}}, instance()),
            "AccessDeniedException");
  // Needs kms:UpdateAlias on the new key's policy: a key whose policy omits the admin.
  std::string locked = PolicyKey(/*recommended=*/true);
  std::string nobody = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/stuck"}, {"TargetKeyId", nobody}});
  Ok("PutKeyPolicy",
     {{"KeyId", nobody},
      {"Policy", SeedPolicy("arn:aws:iam::111122223333:user/nobody", Role(), GoodPcr0Hex())},
      {"BypassPolicyLockoutSafetyCheck", true}});
  AwsResult to_nobody =
      Call("UpdateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", nobody}}, admin());
  ASSERT_FALSE(to_nobody.ok());
  EXPECT_EQ(to_nobody.error().type, "AccessDeniedException");
  EXPECT_THAT(to_nobody.error().message, HasSubstr(nobody));
  // ... and on the current key's policy: moving the alias away from `nobody` is refused too.
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/stuck"}, {"TargetKeyId", a}}, admin()),
            "AccessDeniedException");
  // The recommended policy gives the admin kms:Update*: it may point an alias at that key.
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/app"}, {"TargetKeyId", locked}}, admin()),
            "");
  // A key pending deletion cannot become the target.
  Ok("CreateAlias", {{"AliasName", "alias/other"}, {"TargetKeyId", b}});
  Ok("ScheduleKeyDeletion", {{"KeyId", a}, {"PendingWindowInDays", 7}});
  EXPECT_EQ(ErrorOf("UpdateAlias", {{"AliasName", "alias/other"}, {"TargetKeyId", a}}),
            "KMSInvalidStateException");
}

TEST_F(KmsGrantTest, DeleteAliasRemovesItDurably) {
  std::string a = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/gone"}, {"TargetKeyId", a}});
  EXPECT_EQ(ErrorOf("DeleteAlias", {{"AliasName", "alias/gone"}}, instance()),
            "AccessDeniedException");
  EXPECT_EQ(ErrorOf("DeleteAlias", {{"AliasName", "gone"}}), "ValidationException");
  EXPECT_EQ(ErrorOf("DeleteAlias", Json::object()), "ValidationException");
  EXPECT_EQ(ErrorOf("DeleteAlias", {{"AliasName", "alias/gone"}}, admin()), "");
  EXPECT_EQ(ErrorOf("DeleteAlias", {{"AliasName", "alias/gone"}}), "NotFoundException");
  EXPECT_EQ(ErrorOf("DescribeKey", {{"KeyId", "alias/gone"}}), "NotFoundException");
  Reopen();
  EXPECT_EQ(ErrorOf("DescribeKey", {{"KeyId", "alias/gone"}}), "NotFoundException");
  // The name is free again.
  EXPECT_EQ(ErrorOf("CreateAlias", {{"AliasName", "alias/gone"}, {"TargetKeyId", a}}), "");
  // Needs kms:DeleteAlias on the key's policy.
  std::string nobody = CreateKey();
  Ok("CreateAlias", {{"AliasName", "alias/kept"}, {"TargetKeyId", nobody}});
  Ok("PutKeyPolicy",
     {{"KeyId", nobody},
      {"Policy", SeedPolicy("arn:aws:iam::111122223333:user/nobody", Role(), GoodPcr0Hex())},
      {"BypassPolicyLockoutSafetyCheck", true}});
  EXPECT_EQ(ErrorOf("DeleteAlias", {{"AliasName", "alias/kept"}}, admin()),
            "AccessDeniedException");
}

}  // namespace
}  // namespace lockout::localaws
