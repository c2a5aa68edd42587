#include "src/awsclient/secrets_client.h"

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "tests/awsclient/test_servers.h"

namespace lockout::awsclient {
namespace {

using nlohmann::json;
using testing::AwsErrorReply;
using testing::FakeAwsServer;
using testing::FakeReply;
using testing::TestCredentials;

constexpr char kSecretArn[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:lockout-AbCdEf";

class SecretsClientTest : public ::testing::Test {
 protected:
  void Serve(std::function<FakeReply(const std::string&, const json&)> handler) {
    server_.Start(std::move(handler));
    RetryEnvironment env;
    env.sleep = [](absl::Duration) {};
    absl::StatusOr<std::unique_ptr<SecretsClient>> sm =
        SecretsClient::Create(*EndpointConfig::FromUrl(server_.url()),
                              std::make_shared<StaticCredentialsProvider>(TestCredentials()),
                              testing::kTestRegion, RetryPolicy{}, env);
    ASSERT_TRUE(sm.ok()) << sm.status();
    sm_ = *std::move(sm);
  }

  FakeAwsServer server_;
  std::unique_ptr<SecretsClient> sm_;
};

bool IsUuidV4(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && std::string("89ab").find(s[19]) != std::string::npos;
}

TEST_F(SecretsClientTest, CreateSecretSendsSecretBinaryAndAnIdempotencyToken) {
  Serve([](const std::string&, const json& req) {
    return FakeReply{
        200, {{"ARN", kSecretArn}, {"Name", req["Name"]}, {"VersionId", "v1"}}, {}, {}};
  });
  CreateSecretOptions options;
  options.description = "lockout signing key";
  absl::StatusOr<SecretVersionRef> r = sm_->CreateSecret(
      "lockout", SecretBytes::CopyFrom(ToBytes("ciphertext")), SecretKind::kBinary, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->arn, kSecretArn);
  EXPECT_EQ(r->name, "lockout");
  EXPECT_EQ(r->version_id, "v1");
  ASSERT_EQ(server_.call_count(), 1);
  const json sent = server_.calls()[0].body;
  EXPECT_EQ(server_.calls()[0].target, "secretsmanager.CreateSecret");
  EXPECT_EQ(sent["Name"], "lockout");
  EXPECT_EQ(sent["SecretBinary"], Base64Encode(ToBytes("ciphertext")));
  EXPECT_FALSE(sent.contains("SecretString"));
  EXPECT_EQ(sent["Description"], "lockout signing key");
  EXPECT_TRUE(IsUuidV4(sent["ClientRequestToken"])) << sent["ClientRequestToken"];
}

TEST_F(SecretsClientTest, RetriedPutSecretValueReusesTheSameToken) {
  std::atomic<int> n{0};
  Serve([&n](const std::string&, const json&) {
    if (++n == 1) return AwsErrorReply(500, "InternalServiceError", "oops");
    return FakeReply{
        200, {{"ARN", kSecretArn}, {"VersionId", "v2"}, {"VersionStages", {"AWSCURRENT"}}}, {}, {}};
  });
  absl::StatusOr<SecretVersionRef> r = sm_->PutSecretValue(
      "lockout", SecretBytes::CopyFrom(std::string_view("text value")), SecretKind::kString);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version_stages, std::vector<std::string>{"AWSCURRENT"});
  std::vector<testing::RecordedCall> calls = server_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].body["SecretString"], "text value");
  EXPECT_EQ(calls[0].body["ClientRequestToken"], calls[1].body["ClientRequestToken"]);
}

TEST_F(SecretsClientTest, SecretStringMustBeUtf8AndIsCheckedBeforeSending) {
  Serve([](const std::string&, const json&) { return FakeReply{}; });
  absl::StatusOr<SecretVersionRef> r = sm_->CreateSecret(
      "lockout", SecretBytes::CopyFrom(Bytes{0xff, 0x00, 0x80}), SecretKind::kString);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.call_count(), 0);
}

TEST_F(SecretsClientTest, GetSecretValueReturnsBinaryAsSecretBytes) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"ARN", kSecretArn},
                      {"Name", "lockout"},
                      {"VersionId", "v1"},
                      {"SecretBinary", Base64Encode(ToBytes("kms blob"))},
                      {"VersionStages", {"AWSCURRENT"}},
                      {"CreatedDate", 1700000000}},
                     {},
                     {}};
  });
  GetSecretValueOptions options;
  options.version_stage = "AWSCURRENT";
  absl::StatusOr<SecretValue> v = sm_->GetSecretValue("lockout", options);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, SecretKind::kBinary);
  EXPECT_EQ(v->value.RevealAsString(), "kms blob");
  EXPECT_EQ(v->created_date, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(server_.calls()[0].body,
            json({{"SecretId", "lockout"}, {"VersionStage", "AWSCURRENT"}}));
}

TEST_F(SecretsClientTest, GetSecretValueReturnsString) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"ARN", kSecretArn}, {"SecretString", "{\"k\":\"v\"}"}}, {}, {}};
  });
  absl::StatusOr<SecretValue> v = sm_->GetSecretValue("lockout");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind, SecretKind::kString);
  EXPECT_EQ(v->value.RevealAsString(), "{\"k\":\"v\"}");
}

TEST_F(SecretsClientTest, GetSecretValueOfUnknownSecretIsNotFound) {
  Serve([](const std::string&, const json&) {
    return AwsErrorReply(400, "ResourceNotFoundException",
                         "Secrets Manager can't find the specified secret.");
  });
  absl::StatusOr<SecretValue> v = sm_->GetSecretValue("nope");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsAwsErrorType(v.status(), "ResourceNotFoundException"));
  EXPECT_EQ(server_.call_count(), 1);
}

TEST_F(SecretsClientTest, GetSecretValueWithoutAValueIsMalformed) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"ARN", kSecretArn}, {"SecretString", nullptr}}, {}, {}};
  });
  EXPECT_EQ(sm_->GetSecretValue("lockout").status().code(), absl::StatusCode::kInternal);
}

TEST_F(SecretsClientTest, DescribeSecretParsesVersionsAndDates) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200,
                     {{"ARN", kSecretArn},
                      {"Name", "lockout"},
                      {"KmsKeyId", "alias/aws/secretsmanager"},
                      {"LastChangedDate", 1700000100.25},
                      {"VersionIdsToStages", {{"v1", {"AWSPREVIOUS"}}, {"v2", {"AWSCURRENT"}}}}},
                     {},
                     {}};
  });
  absl::StatusOr<SecretDescription> d = sm_->DescribeSecret("lockout");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "lockout");
  EXPECT_EQ(d->kms_key_id, "alias/aws/secretsmanager");
  EXPECT_EQ(d->last_changed_date, absl::FromUnixMillis(1700000100250));
  EXPECT_FALSE(d->created_date.has_value());
  EXPECT_EQ(d->version_ids_to_stages.at("v2"), std::vector<std::string>{"AWSCURRENT"});
}

TEST_F(SecretsClientTest, DescribeSecretRejectsMistypedFields) {
  Serve([](const std::string&, const json&) {
    return FakeReply{
        200, {{"ARN", kSecretArn}, {"VersionIdsToStages", {{"v1", "AWSCURRENT"}}}}, {}, {}};
  });
  EXPECT_EQ(sm_->DescribeSecret("lockout").status().code(), absl::StatusCode::kInternal);
}

TEST_F(SecretsClientTest, UpdateSecretSendsTheValueAndTheGivenToken) {
  Serve([](const std::string&, const json&) {
    return FakeReply{200, {{"ARN", kSecretArn}, {"Name", "lockout"}, {"VersionId", "v1"}}, {}, {}};
  });
  absl::StatusOr<SecretVersionRef> r =
      sm_->UpdateSecret("lockout", SecretBytes::CopyFrom(std::string_view("ct")),
                        SecretKind::kBinary, std::string("v1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->version_id, "v1");
  ASSERT_EQ(server_.call_count(), 1);
  EXPECT_EQ(server_.calls()[0].target, "secretsmanager.UpdateSecret");
  EXPECT_EQ(server_.calls()[0].body, json({{"SecretId", "lockout"},
                                           {"ClientRequestToken", "v1"},
                                           {"SecretBinary", Base64Encode(ToBytes("ct"))}}));
}

}  // namespace
}  // namespace lockout::awsclient
