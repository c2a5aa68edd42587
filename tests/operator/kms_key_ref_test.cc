// ResolveKmsKey against a real local-aws (in-process): the four forms of a KMS key, keys and
// aliases that do not exist, and callers that may not DescribeKey.

#include "src/operator/kms_key_ref.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/common/clock.h"
#include "src/localaws/local_aws.h"
#include "tests/testing/temp_dir.h"

namespace lockout::ops {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(KmsKeyFormTest, ClassifiesBySyntax) {
  EXPECT_EQ(*KmsKeyFormOf("1234abcd-12ab-34cd-56ef-1234567890ab"), KmsKeyForm::kKeyId);
  EXPECT_EQ(*KmsKeyFormOf("mrk-1234"), KmsKeyForm::kKeyId);
  EXPECT_EQ(*KmsKeyFormOf("arn:aws:kms:us-east-1:111122223333:key/1234"), KmsKeyForm::kKeyArn);
  EXPECT_EQ(*KmsKeyFormOf("alias/x"), KmsKeyForm::kAliasName);
  EXPECT_EQ(*KmsKeyFormOf("arn:aws:kms:us-east-1:111122223333:alias/x"), KmsKeyForm::kAliasArn);
  for (const char* bad : {"", "arn:aws:s3:::bucket", "arn:aws:kms:us-east-1:1:key/",
                          "arn:aws:kms:us-east-1:1:alias/", "arn:aws:kms:us-east-1"}) {
    EXPECT_EQ(KmsKeyFormOf(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

class ResolveKmsKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    localaws::LocalAwsOptions options;
    options.state_dir = dir_.path() + "/state";
    options.nsm_socket = dir_.path() + "/nsm.sock";
    options.threads = 2;
    auto la = localaws::LocalAws::Start(options, Clock::Real());
    ASSERT_TRUE(la.ok()) << la.status();
    local_aws_ = *std::move(la);
    ready_ = *local_aws_->ReadyJson();
    admin_ = Kms("admin");
    instance_ = Kms("instance");
    auto key = admin_->CreateKey({});
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    ASSERT_TRUE(admin_->CreateAlias("alias/ref", key_.key_id).ok());
    alias_arn_ =
        absl::StrCat("arn:aws:kms:us-east-1:", ready_["account"].get<std::string>(), ":alias/ref");
  }

  std::unique_ptr<awsclient::KmsClient> Kms(const std::string& name) {
    const auto& p = ready_["principals"][name];
    aws::AwsCredentials c;
    c.access_key_id = p["access_key_id"].get<std::string>();
    c.secret_access_key = SecretBytes::CopyFrom(p["secret_access_key"].get<std::string>());
    if (p.contains("session_token")) {
      c.session_token = SecretBytes::CopyFrom(p["session_token"].get<std::string>());
    }
    return *awsclient::KmsClient::Create(
        *awsclient::EndpointConfig::FromUrl(ready_["kms_endpoint"].get<std::string>()),
        std::make_shared<awsclient::StaticCredentialsProvider>(std::move(c)), "us-east-1",
        {.max_attempts = 1});
  }

  testing::TempDir dir_;
  std::unique_ptr<localaws::LocalAws> local_aws_;
  nlohmann::ordered_json ready_;
  std::unique_ptr<awsclient::KmsClient> admin_, instance_;
  awsclient::KeyMetadata key_;
  std::string alias_arn_;
};

TEST_F(ResolveKmsKeyTest, EveryFormResolvesToTheKeyArn) {
  for (const std::string& form : {key_.key_id, key_.arn, std::string("alias/ref"), alias_arn_}) {
    absl::StatusOr<KmsKeyRef> ref = ResolveKmsKey(*admin_, form);
    ASSERT_TRUE(ref.ok()) << form << ": " << ref.status();
    EXPECT_EQ(ref->key_id, key_.key_id);
    EXPECT_EQ(ref->arn, key_.arn);
    EXPECT_EQ(ref->id(), key_.arn);
    EXPECT_TRUE(ref->resolved);
    // The resolved id works where KMS takes no alias.
    EXPECT_TRUE(admin_->GetKeyPolicy(ref->id()).ok()) << form;
  }
  EXPECT_EQ(ResolveKmsKey(*admin_, "alias/ref")->Describe(), "alias/ref (" + key_.arn + ")");
}

TEST_F(ResolveKmsKeyTest, MissingKeysAreNamedWithWhatToCheck) {
  for (const std::string& form :
       {std::string("alias/nope"), std::string("11111111-2222-3333-4444-555555555555"),
        absl::StrCat("arn:aws:kms:us-east-1:", ready_["account"].get<std::string>(),
                     ":alias/nope")}) {
    absl::StatusOr<KmsKeyRef> ref = ResolveKmsKey(*admin_, form, "--probe-key");
    ASSERT_FALSE(ref.ok()) << form;
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(
        ref.status().ToString(),
        AllOf(HasSubstr("--probe-key " + form + ": KMS has no such"), HasSubstr("AWS_REGION")));
  }
  EXPECT_EQ(ResolveKmsKey(*admin_, "arn:aws:s3:::b").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolveKmsKeyTest, CallersThatMayNotDescribeTheKey) {
  // The instance role may not DescribeKey (nor ListAliases): ids and ARNs are used as given.
  absl::StatusOr<KmsKeyRef> ref = ResolveKmsKey(*instance_, key_.arn);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->key_id, key_.key_id);
  EXPECT_EQ(ref->arn, key_.arn);
  EXPECT_FALSE(ref->resolved);
  ref = ResolveKmsKey(*instance_, key_.key_id);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->id(), key_.key_id);
  ref = ResolveKmsKey(*instance_, "alias/ref");
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ref.status().ToString(), HasSubstr("pass the key ARN instead"));

  // A key policy that denies the admin DescribeKey: the alias resolves through ListAliases.
  const std::string root = ready_["principals"]["root"]["arn"].get<std::string>();
  ASSERT_TRUE(admin_
                  ->PutKeyPolicy(key_.arn,
                                 absl::StrCat(R"({"Version":"2012-10-17","Statement":[)",
                                              R"({"Effect":"Allow","Principal":{"AWS":")", root,
                                              R"("},"Action":"kms:*","Resource":"*"},)",
                                              R"({"Effect":"Deny","Principal":{"AWS":"*"},)",
                                              R"("Action":"kms:DescribeKey","Resource":"*"}]})"),
                                 false)
                  .ok());
  ASSERT_TRUE(absl::IsPermissionDenied(admin_->DescribeKey(key_.arn).status()));
  for (const std::string& form : {std::string("alias/ref"), alias_arn_}) {
    ref = ResolveKmsKey(*admin_, form);
    ASSERT_TRUE(ref.ok()) << form << ": " << ref.status();
    EXPECT_EQ(ref->arn, key_.arn);
  }
}

}  // namespace
}  // namespace lockout::ops
