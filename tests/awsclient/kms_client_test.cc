#include "src/awsclient/kms_client.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/awsclient/aws_call_error.h"
#include "src/common/encoding.h"
#include "tests/awsclient/test_servers.h"

namespace lockout::awsclient {
namespace {

using nlohmann::json;
using testing::AwsErrorReply;
using testing::FakeAwsServer;
using testing::FakeReply;
using testing::TestCredentials;

constexpr char kKeyArn[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

class KmsClientTest : public ::testing::Test {
 protected:
  void Serve(std::function<FakeReply(const std::string&, const json&)> handler) {
    server_.Start(std::move(handler));
    RetryPolicy retry;
    retry.max_attempts = 2;
    RetryEnvironment env;
    env.sleep = [](absl::Duration) {};
    absl::StatusOr<std::unique_ptr<KmsClient>> kms =
        KmsClient::Create(*EndpointConfig::FromUrl(server_.url()),
                          std::make_shared<StaticCredentialsProvider>(TestCredentials()),
                          testing::kTestRegion, retry, env);
    ASSERT_TRUE(kms.ok()) << kms.status();
    kms_ = *std::move(kms);
  }

  json OnlyCall(const std::string& target) {
    EXPECT_EQ(server_.call_count(), 1);
    if (server_.call_count() != 1) return json();
    EXPECT_EQ(server_.calls()[0].target, target);
    return server_.calls()[0].body;
  }

  FakeAwsServer server_;
  std::unique_ptr<KmsClient> kms_;
};

TEST_F(KmsClientTest, EncryptSendsBase64PlaintextAndContextAndReturnsTheBlob) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"CiphertextBlob", Base64Encode(ToBytes("blob"))},
                      {"KeyId", kKeyArn},
                      {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
                     {},
                     {}};
  });
  absl::StatusOr<EncryptResult> r =
      kms_->Encrypt("alias/lockout", SecretBytes::CopyFrom(std::string_view("pkcs8 bytes")),
                    {{"secret", "lockout/key"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ciphertext_blob, ToBytes("blob"));
  EXPECT_EQ(r->key_id, kKeyArn);
  EXPECT_EQ(r->encryption_algorithm, "SYMMETRIC_DEFAULT");
  json sent = OnlyCall("TrentService.Encrypt");
  EXPECT_EQ(sent["KeyId"], "alias/lockout");
  EXPECT_EQ(sent["Plaintext"], Base64Encode(ToBytes("pkcs8 bytes")));
  EXPECT_EQ(sent["EncryptionContext"], json({{"secret", "lockout/key"}}));
}

TEST_F(KmsClientTest, DecryptWithoutRecipientReturnsPlaintextAsSecretBytes) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"KeyId", kKeyArn},
                      {"Plaintext", Base64Encode(ToBytes("the key"))},
                      {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
                     {},
                     {}};
  });
  DecryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.encryption_context = {{"secret", "s"}};
  absl::StatusOr<DecryptResult> r = kms_->Decrypt(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->plaintext.RevealAsString(), "the key");
  EXPECT_FALSE(r->ciphertext_for_recipient.has_value());
  json sent = OnlyCall("TrentService.Decrypt");
  EXPECT_EQ(sent["CiphertextBlob"], Base64Encode(ToBytes("blob")));
  EXPECT_EQ(sent["EncryptionContext"], json({{"secret", "s"}}));
  EXPECT_FALSE(sent.contains("Recipient"));
  EXPECT_FALSE(sent.contains("KeyId"));
}

TEST_F(KmsClientTest, DecryptWithRecipientSendsAttestationAndReturnsCiphertextForRecipient) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"KeyId", kKeyArn},
                      {"CiphertextForRecipient", Base64Encode(ToBytes("cms envelope"))},
                      {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}},
                     {},
                     {}};
  });
  DecryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.key_id = kKeyArn;
  request.recipient = KmsRecipient{ToBytes("attestation doc"), std::string(kRsaesOaepSha256)};
  absl::StatusOr<DecryptResult> r = kms_->Decrypt(request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ciphertext_for_recipient.has_value());
  EXPECT_EQ(*r->ciphertext_for_recipient, ToBytes("cms envelope"));
  EXPECT_TRUE(r->plaintext.empty());
  json sent = OnlyCall("TrentService.Decrypt");
  EXPECT_EQ(sent["KeyId"], kKeyArn);
  EXPECT_EQ(sent["Recipient"],
            json({{"KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256"},
                  {"AttestationDocument", Base64Encode(ToBytes("attestation doc"))}}));
}

TEST_F(KmsClientTest, DecryptWithRecipientRefusesAReplyCarryingPlaintext) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"KeyId", kKeyArn},
                      {"Plaintext", Base64Encode(ToBytes("leaked"))},
                      {"CiphertextForRecipient", Base64Encode(ToBytes("env"))}},
                     {},
                     {}};
  });
  DecryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.recipient = KmsRecipient{ToBytes("doc")};
  absl::StatusOr<DecryptResult> r = kms_->Decrypt(request);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
}

TEST_F(KmsClientTest, DecryptAccessDeniedIsRecognisableAndTriedOnce) {
  Serve([](const std::string&, const json&) {
    return AwsErrorReply(400, "AccessDeniedException", "not allowed");
  });
  DecryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  absl::StatusOr<DecryptResult> r = kms_->Decrypt(request);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsAwsErrorType(r.status(), "AccessDeniedException"));
  EXPECT_EQ(server_.call_count(), 1);
}

TEST_F(KmsClientTest, GenerateDataKeyReturnsBlobAndPlaintext) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"KeyId", kKeyArn},
                      {"CiphertextBlob", Base64Encode(ToBytes("wrapped"))},
                      {"Plaintext", Base64Encode(Bytes(32, 7))}},
                     {},
                     {}};
  });
  GenerateDataKeyRequest request;
  request.key_id = "alias/lockout";
  absl::StatusOr<GenerateDataKeyResult> r = kms_->GenerateDataKey(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ciphertext_blob, ToBytes("wrapped"));
  EXPECT_EQ(r->plaintext.size(), 32u);
  json sent = OnlyCall("TrentService.GenerateDataKey");
  EXPECT_EQ(sent["KeySpec"], "AES_256");
  EXPECT_FALSE(sent.contains("NumberOfBytes"));
}

TEST_F(KmsClientTest, GenerateDataKeyNeedsExactlyOneOfKeySpecAndNumberOfBytes) {
  Serve([](const std::string&, const json&) { return FakeReply{}; });
  GenerateDataKeyRequest both;
  both.key_id = "k";
  both.number_of_bytes = 16;
  EXPECT_EQ(kms_->GenerateDataKey(both).status().code(), absl::StatusCode::kInvalidArgument);
  GenerateDataKeyRequest neither;
  neither.key_id = "k";
  neither.key_spec.reset();
  EXPECT_EQ(kms_->GenerateDataKey(neither).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.call_count(), 0);
}

TEST_F(KmsClientTest, CreateKeySendsPolicyBypassAndTagsAndParsesMetadata) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"KeyMetadata",
                       {{"KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab"},
                        {"Arn", kKeyArn},
                        {"AWSAccountId", "111122223333"},
                        {"Description", "lockout"},
                        {"KeyState", "Enabled"},
                        {"Enabled", true},
                        {"KeyUsage", "ENCRYPT_DECRYPT"},
                        {"KeySpec", "SYMMETRIC_DEFAULT"},
                        {"KeyManager", "CUSTOMER"},
                        {"CreationDate", 1700000000.5}}}},
                     {},
                     {}};
  });
  CreateKeyRequest request;
  request.description = "lockout";
  request.policy = R"({"Version":"2012-10-17","Statement":[]})";
  request.bypass_policy_lockout_safety_check = true;
  request.tags = {{"app", "lockout"}};
  absl::StatusOr<KeyMetadata> m = kms_->CreateKey(request);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->arn, kKeyArn);
  EXPECT_EQ(m->aws_account_id, "111122223333");
  EXPECT_TRUE(m->enabled);
  EXPECT_EQ(m->key_state, "Enabled");
  ASSERT_TRUE(m->creation_date.has_value());
  EXPECT_EQ(*m->creation_date, absl::FromUnixMillis(1700000000500));
  json sent = OnlyCall("TrentService.CreateKey");
  EXPECT_EQ(sent["Policy"], *request.policy);
  EXPECT_EQ(sent["BypassPolicyLockoutSafetyCheck"], true);
  EXPECT_EQ(sent["KeyUsage"], "ENCRYPT_DECRYPT");
  EXPECT_EQ(sent["Tags"], json::parse(R"([{"TagKey":"app","TagValue":"lockout"}])"));
}

TEST_F(KmsClientTest, DescribeKeyNotFoundIsNotFound) {
  Serve([](const std::string&, const json&) {
    return AwsErrorReply(400, "NotFoundException", "Key 'alias/x' does not exist");
  });
  EXPECT_EQ(kms_->DescribeKey("alias/x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KmsClientTest, GetAndPutKeyPolicyUseTheDefaultPolicyName) {
  Serve([](const std::string& op, const json&) {
    if (op == "GetKeyPolicy") return FakeReply{200, {{"Policy", "{\"p\":1}"}}, {}, {}};
    FakeReply empty;
    empty.raw_body = "";
    return empty;
  });
  absl::StatusOr<std::string> policy = kms_->GetKeyPolicy(kKeyArn);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(*policy, "{\"p\":1}");
  ASSERT_TRUE(
      kms_->PutKeyPolicy(kKeyArn, "{\"p\":2}", /*bypass_policy_lockout_safety_check=*/true).ok());
  ASSERT_TRUE(
      kms_->PutKeyPolicy(kKeyArn, "{\"p\":3}", /*bypass_policy_lockout_safety_check=*/false).ok());
  std::vector<testing::RecordedCall> calls = server_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].body, json({{"KeyId", kKeyArn}, {"PolicyName", "default"}}));
  EXPECT_EQ(calls[1].target, "TrentService.PutKeyPolicy");
  EXPECT_EQ(calls[1].body, json({{"KeyId", kKeyArn},
                                 {"PolicyName", "default"},
                                 {"Policy", "{\"p\":2}"},
                                 {"BypassPolicyLockoutSafetyCheck", true}}));
  EXPECT_FALSE(calls[2].body.contains("BypassPolicyLockoutSafetyCheck"));
}

TEST_F(KmsClientTest, CreateAliasSendsNameAndTarget) {
  Serve([](const std::string&, const json&) { return FakeReply{}; });
  ASSERT_TRUE(kms_->CreateAlias("alias/lockout", kKeyArn).ok());
  EXPECT_EQ(OnlyCall("TrentService.CreateAlias"),
            json({{"AliasName", "alias/lockout"}, {"TargetKeyId", kKeyArn}}));
}

TEST_F(KmsClientTest, MalformedRepliesAreInternalErrorsNamingTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::object(), "Plaintext"},
      {{{"Plaintext", 42}}, "Plaintext"},
      {{{"Plaintext", "not base64!"}}, "Plaintext"},
      {{{"Plaintext", "QQ=="}, {"KeyId", 7}}, "KeyId"},
      {{{"Plaintext", "QQ=="}, {"CiphertextForRecipient", "%%"}}, "CiphertextForRecipient"},
  };
  std::atomic<size_t> index{0};
  Serve([&](const std::string&, const json&) {
    return FakeReply{200, cases[index.load()].first, {}, {}};
  });
  for (size_t i = 0; i < cases.size(); ++i) {
    index = i;
    DecryptRequest request;
    request.ciphertext_blob = ToBytes("blob");
    absl::StatusOr<DecryptResult> r = kms_->Decrypt(request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << i;
    EXPECT_NE(std::string(r.status().message()).find(cases[i].second), std::string::npos)
        << r.status();
  }
}

TEST_F(KmsClientTest, KeyMetadataMustHaveKeyIdAndArn) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"KeyMetadata", {{"KeyId", "k"}}}}, {}, {}};
  });
  EXPECT_EQ(kms_->DescribeKey("k").status().code(), absl::StatusCode::kInternal);
}

TEST_F(KmsClientTest, ReEncryptSendsBothContextsGrantTokensAndDryRun) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"CiphertextBlob", Base64Encode(ToBytes("moved"))},
                      {"SourceKeyId", kKeyArn},
                      {"KeyId", "arn:aws:kms:us-east-1:111122223333:key/other"}},
                     {},
                     {}};
  });
  ReEncryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.source_key_id = kKeyArn;
  request.source_encryption_context = {{"lockout:secret", "s"}};
  request.destination_key_id = "alias/mine";
  request.destination_encryption_context = {{"d", "1"}};
  request.grant_tokens = {"token"};
  request.dry_run = true;
  absl::StatusOr<ReEncryptResult> r = kms_->ReEncrypt(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ciphertext_blob, ToBytes("moved"));
  EXPECT_EQ(r->source_key_id, kKeyArn);
  EXPECT_EQ(r->key_id, "arn:aws:kms:us-east-1:111122223333:key/other");
  EXPECT_EQ(OnlyCall("TrentService.ReEncrypt"),
            json({{"CiphertextBlob", Base64Encode(ToBytes("blob"))},
                  {"DestinationKeyId", "alias/mine"},
                  {"SourceKeyId", kKeyArn},
                  {"SourceEncryptionContext", {{"lockout:secret", "s"}}},
                  {"DestinationEncryptionContext", {{"d", "1"}}},
                  {"GrantTokens", {"token"}},
                  {"DryRun", true}}));
}

TEST_F(KmsClientTest, ReEncryptWithoutACiphertextInTheReplyIsMalformed) {
  Serve([](const std::string&, const json&) { return FakeReply{200, {{"KeyId", "k"}}, {}, {}}; });
  ReEncryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.destination_key_id = "k";
  EXPECT_EQ(kms_->ReEncrypt(request).status().code(), absl::StatusCode::kInternal);
}

TEST_F(KmsClientTest, DecryptSendsGrantTokensAndDryRunOnlyWhenSet) {
  Serve([](const std::string&, const json&) {
    return AwsErrorReply(412, "DryRunOperationException", "would have succeeded");
  });
  DecryptRequest request;
  request.ciphertext_blob = ToBytes("blob");
  request.grant_tokens = {"t1", "t2"};
  request.dry_run = true;
  absl::Status s = kms_->Decrypt(request).status();
  EXPECT_TRUE(IsAwsErrorType(s, "DryRunOperationException")) << s;
  json sent = OnlyCall("TrentService.Decrypt");
  EXPECT_EQ(sent["GrantTokens"], json({"t1", "t2"}));
  EXPECT_EQ(sent["DryRun"], true);
}

TEST_F(KmsClientTest, EncryptDryRunSendsADummyPlaintextAndReturnsTheAnswer) {
  Serve([](const std::string&, const json&) {
    return AwsErrorReply(412, "DryRunOperationException", "would have succeeded");
  });
  absl::Status s = kms_->EncryptDryRun(kKeyArn, {{"lockout:secret", "s"}});
  EXPECT_TRUE(IsAwsErrorType(s, "DryRunOperationException")) << s;
  json sent = OnlyCall("TrentService.Encrypt");
  EXPECT_EQ(sent["DryRun"], true);
  EXPECT_EQ(sent["KeyId"], kKeyArn);
  EXPECT_EQ(sent["EncryptionContext"], json({{"lockout:secret", "s"}}));
  EXPECT_EQ(sent["Plaintext"], Base64Encode(ToBytes("x")));
}

TEST_F(KmsClientTest, CreateGrantSendsConstraintsAndReturnsTokenAndId) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"GrantToken", "tok"}, {"GrantId", "gid"}}, {}, {}};
  });
  CreateGrantRequest request;
  request.key_id = kKeyArn;
  request.grantee_principal = "arn:aws:iam::111122223333:role/r";
  request.retiring_principal = "arn:aws:iam::111122223333:role/r";
  request.operations = {"Decrypt", "ReEncryptFrom"};
  request.name = "probe";
  request.encryption_context_subset = EncryptionContext{{"lockout:secret", "s"}};
  absl::StatusOr<CreateGrantResult> r = kms_->CreateGrant(request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->grant_token, "tok");
  EXPECT_EQ(r->grant_id, "gid");
  EXPECT_EQ(OnlyCall("TrentService.CreateGrant"),
            json({{"KeyId", kKeyArn},
                  {"GranteePrincipal", "arn:aws:iam::111122223333:role/r"},
                  {"Operations", {"Decrypt", "ReEncryptFrom"}},
                  {"RetiringPrincipal", "arn:aws:iam::111122223333:role/r"},
                  {"Name", "probe"},
                  {"Constraints", {{"EncryptionContextSubset", {{"lockout:secret", "s"}}}}}}));
}

TEST_F(KmsClientTest, CreateGrantWithoutATokenIsMalformed) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"GrantId", "gid"}}, {}, {}};
  });
  CreateGrantRequest request;
  request.key_id = kKeyArn;
  request.grantee_principal = "arn:aws:iam::111122223333:root";
  request.operations = {"Decrypt"};
  absl::Status s = kms_->CreateGrant(request).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(s.message()).find("GrantToken"), std::string::npos) << s;
}

TEST_F(KmsClientTest, ListGrantsFollowsMarkersAcrossPages) {
  Serve([](const std::string&, const json& body) {
    if (!body.contains("Marker")) {
      return FakeReply{200,
                       {{"Grants",
                         {{{"GrantId", "g1"},
                           {"KeyId", kKeyArn},
                           {"GranteePrincipal", "p1"},
                           {"Operations", {"Decrypt"}}}}},
                        {"Truncated", true},
                        {"NextMarker", "m2"}},
                       {},
                       {}};
    }
    EXPECT_EQ(body["Marker"], "m2");
    return FakeReply{
        200,
        {{"Grants", {{{"GrantId", "g2"}, {"RetiringPrincipal", "p2"}}}}, {"Truncated", false}},
        {},
        {}};
  });
  absl::StatusOr<std::vector<GrantEntry>> grants = kms_->ListGrants(kKeyArn);
  ASSERT_TRUE(grants.ok()) << grants.status();
  ASSERT_EQ(grants->size(), 2u);
  EXPECT_EQ((*grants)[0].grant_id, "g1");
  EXPECT_EQ((*grants)[0].operations, std::vector<std::string>{"Decrypt"});
  EXPECT_EQ((*grants)[1].grant_id, "g2");
  EXPECT_EQ((*grants)[1].retiring_principal, "p2");
  EXPECT_EQ(server_.call_count(), 2);
}

TEST_F(KmsClientTest, ListGrantsRejectsMalformedPages) {
  const std::vector<json> cases = {
      {{"Grants", "nope"}},
      {{"Grants", {42}}},
      {{"Grants", {{{"KeyId", "k"}}}}},                  // no GrantId
      {{"Grants", json::array()}, {"Truncated", true}},  // truncated without NextMarker
  };
  std::atomic<size_t> index{0};
  Serve([&](const std::string&, const json&) {
    return FakeReply{200, cases[index.load()], {}, {}};
  });
  for (size_t i = 0; i < cases.size(); ++i) {
    index = i;
    EXPECT_EQ(kms_->ListGrants(kKeyArn).status().code(), absl::StatusCode::kInternal) << i;
  }
}

TEST_F(KmsClientTest, AServerThatNeverStopsPagingIsAnError) {
  Serve([](const std::string&, const json&) {
    return FakeReply{
        200, {{"Aliases", json::array()}, {"Truncated", true}, {"NextMarker", "m"}}, {}, {}};
  });
  absl::Status s = kms_->ListAliases().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(s.message()).find("1000 pages"), std::string::npos) << s;
}

TEST_F(KmsClientTest, GrantRevocationRetirementAliasesAndDeletion) {
  Serve([](const std::string& op, const json&) {
    if (op == "ListAliases") {
      json aliases = json::array();
      aliases.push_back({{"AliasName", "alias/a"}, {"TargetKeyId", "k"}});
      aliases.push_back({{"AliasName", "alias/aws/s3"}});
      return FakeReply{200, {{"Aliases", aliases}}, {}, {}};
    }
    if (op == "ScheduleKeyDeletion") {
      return FakeReply{200, {{"KeyId", kKeyArn}, {"KeyState", "PendingDeletion"}}, {}, {}};
    }
    return FakeReply{};
  });
  ASSERT_TRUE(kms_->RevokeGrant(kKeyArn, "gid").ok());
  ASSERT_TRUE(kms_->RetireGrant("tok").ok());
  ASSERT_TRUE(kms_->UpdateAlias("alias/a", kKeyArn).ok());
  absl::StatusOr<std::vector<AliasEntry>> aliases = kms_->ListAliases(kKeyArn);
  ASSERT_TRUE(aliases.ok()) << aliases.status();
  ASSERT_EQ(aliases->size(), 2u);
  EXPECT_EQ((*aliases)[0].target_key_id, "k");
  EXPECT_EQ((*aliases)[1].target_key_id, "");
  absl::StatusOr<std::string> state = kms_->ScheduleKeyDeletion(kKeyArn, 7);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, "PendingDeletion");
  std::vector<testing::RecordedCall> calls = server_.calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0].target, "TrentService.RevokeGrant");
  EXPECT_EQ(calls[0].body, json({{"KeyId", kKeyArn}, {"GrantId", "gid"}}));
  EXPECT_EQ(calls[1].body, json({{"GrantToken", "tok"}}));
  EXPECT_EQ(calls[2].body, json({{"AliasName", "alias/a"}, {"TargetKeyId", kKeyArn}}));
  EXPECT_EQ(calls[3].body, json({{"KeyId", kKeyArn}}));
  EXPECT_EQ(calls[4].body, json({{"KeyId", kKeyArn}, {"PendingWindowInDays", 7}}));
}

}  // namespace
}  // namespace lockout::awsclient
