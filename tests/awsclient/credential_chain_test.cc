// AwsConfig's credential chain and region without a network: each source, their order, profile
// selection, the files' forms, the errors that teach, and the caching of temporary credentials.
// Assume-role against a real STS (local-aws) is in tests/localaws/sts_service_test.cc.

#include "src/awsclient/credential_chain.h"

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "tests/testing/temp_dir.h"

namespace lockout::awsclient {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class CredentialChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vars_["HOME"] = dir_.path();
    vars_["AWS_EC2_METADATA_DISABLED"] = "true";
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() + "/" + name) << text;
  }
  void Config(const std::string& text) {
    std::filesystem::create_directories(dir_.path() + "/.aws");
    Write(".aws/config", text);
  }
  void Credentials(const std::string& text) {
    std::filesystem::create_directories(dir_.path() + "/.aws");
    Write(".aws/credentials", text);
  }
  AwsConfig Make() {
    return AwsConfig([vars = vars_](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    });
  }
  CredentialChainOptions Fast() {
    CredentialChainOptions o;
    o.imds.retry = {
        .max_attempts = 1, .total_timeout = absl::Seconds(2), .attempt_timeout = absl::Seconds(1)};
    return o;
  }
  // The access key id the chain resolves to (calls the provider).
  std::string KeyId(const AwsConfig& c) {
    absl::StatusOr<ResolvedCredentials> r = c.Credentials(Fast());
    if (!r.ok()) return absl::StrCat("error: ", r.status().ToString());
    absl::StatusOr<aws::AwsCredentials> creds = r->provider->GetCredentials();
    if (!creds.ok()) return absl::StrCat("error: ", creds.status().ToString());
    return creds->access_key_id;
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> vars_;
};

TEST_F(CredentialChainTest, EnvironmentComesFirst) {
  Credentials("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n");
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  vars_["AWS_SESSION_TOKEN"] = "envtoken";
  EXPECT_EQ(KeyId(Make()), "AKIAENV");
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->source, StartsWith("environment"));
  EXPECT_EQ(r->provider->GetCredentials()->session_token.RevealAsString(), "envtoken");
  // Even an explicit AWS_PROFILE does not override the environment's keys (as in the SDKs).
  vars_["AWS_PROFILE"] = "other";
  EXPECT_EQ(KeyId(Make()), "AKIAENV");
  // Half a pair is an error, not a fall-through.
  vars_.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_THAT(KeyId(Make()), HasSubstr("must be set together"));
}

TEST_F(CredentialChainTest, DefaultProfileFromTheCredentialsFileThenTheConfigFile) {
  Credentials(
      "[default]\naws_access_key_id = AKIACRED\naws_secret_access_key = c\n"
      "aws_session_token = t\n");
  Config("[default]\naws_access_key_id = AKIACONF\naws_secret_access_key = c\n");
  EXPECT_EQ(KeyId(Make()), "AKIACRED");
  Credentials("");
  EXPECT_EQ(KeyId(Make()), "AKIACONF");
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials();
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->source, HasSubstr(dir_.path() + "/.aws/config"));
}

TEST_F(CredentialChainTest, AwsProfileSelectsProfileSectionsInConfigAndPlainInCredentials) {
  Config(
      "[dev]\naws_access_key_id = AKIAWRONGFORM\naws_secret_access_key = x\n"
      "[profile dev]\nregion = eu-north-1\naws_access_key_id = AKIACONFDEV\n"
      "aws_secret_access_key = x\n"
      "[profile prod]\nregion = ap-south-1\n");
  Credentials("[prod]\naws_access_key_id = AKIACREDPROD\naws_secret_access_key = y\n");
  vars_["AWS_PROFILE"] = "dev";
  EXPECT_EQ(KeyId(Make()), "AKIACONFDEV");
  EXPECT_EQ(*Make().Region(), "eu-north-1");
  vars_["AWS_PROFILE"] = "prod";
  EXPECT_EQ(KeyId(Make()), "AKIACREDPROD");
  EXPECT_EQ(*Make().Region(), "ap-south-1");
  vars_["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(*Make().Region(), "us-west-2");  // the variable wins
  vars_.erase("AWS_REGION");
  vars_["AWS_DEFAULT_REGION"] = "us-west-1";
  EXPECT_EQ(*Make().Region(), "us-west-1");
  vars_["AWS_PROFILE"] = "missing";
  EXPECT_THAT(KeyId(Make()), AllOf(HasSubstr("AWS_PROFILE=missing: no such profile \"missing\""),
                                   HasSubstr(dir_.path() + "/.aws/credentials"),
                                   HasSubstr(dir_.path() + "/.aws/config")));
}

TEST_F(CredentialChainTest, FileVariablesAndTildeAreHonoured) {
  Write("my-config", "[profile x]\nregion = sa-east-1\ncredential_process = /bin/false\n");
  Write("my-creds", "[x]\naws_access_key_id = AKIAX\naws_secret_access_key = s\n");
  vars_["AWS_CONFIG_FILE"] = "~/my-config";
  vars_["AWS_SHARED_CREDENTIALS_FILE"] = dir_.path() + "/my-creds";
  vars_["AWS_PROFILE"] = "x";
  EXPECT_EQ(KeyId(Make()), "AKIAX");  // credentials-file keys before credential_process
  EXPECT_EQ(*Make().Region(), "sa-east-1");
}

TEST_F(CredentialChainTest, RegionErrorsTeach) {
  EXPECT_THAT(Make().Region().status().ToString(),
              AllOf(HasSubstr("AWS_REGION"), HasSubstr("region in profile \"default\"")));
  Config("[default]\nregion = Not_A_Region\n");
  EXPECT_THAT(Make().Region().status().ToString(), HasSubstr("is not an AWS region name"));
}

TEST_F(CredentialChainTest, NoCredentialsNamesEverySourceAndWhatToSet) {
  Config("[default]\nregion = us-east-1\n");  // a profile without credentials falls through
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials(Fast());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().ToString(),
              AllOf(HasSubstr("AWS_ACCESS_KEY_ID"), HasSubstr("profile \"default\""),
                    HasSubstr("has no credentials"), HasSubstr("AWS_SHARED_CREDENTIALS_FILE"),
                    HasSubstr("no such file"), HasSubstr("AWS_CONFIG_FILE"),
                    HasSubstr("AWS_EC2_METADATA_DISABLED=true"), HasSubstr("; set AWS_ACCESS_KEY_ID"),
                    HasSubstr("AWS_PROFILE")));
}

TEST_F(CredentialChainTest, ImdsIsTheLastSourceAndItsFailureSaysWhatElseWasTried) {
  vars_["AWS_EC2_METADATA_DISABLED"] = "false";
  vars_["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1";
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials(Fast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->source, HasSubstr("instance role (IMDS at http://127.0.0.1:1"));
  ASSERT_NE(r->temporary, nullptr);
  absl::StatusOr<aws::AwsCredentials> c = r->provider->GetCredentials();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().ToString(),
              AllOf(HasSubstr("no AWS credentials: tried the environment"),
                    HasSubstr("profile \"default\""), HasSubstr("instance role (IMDS"),
                    HasSubstr("; set AWS_ACCESS_KEY_ID")));
  vars_["AWS_EC2_METADATA_DISABLED"] = "TRUE";  // case-insensitive, as in the SDKs
  EXPECT_FALSE(Make().Credentials(Fast()).ok());
}

TEST_F(CredentialChainTest, BrokenProfilesAreErrorsNotSkipped) {
  Config(
      "[profile a]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = b\n"
      "[profile b]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = c\n"
      "[profile c]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = a\n"
      "[profile orphan]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = nope\n"
      "[profile both]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = a\n"
      "credential_source = Environment\n"
      "[profile neither]\nrole_arn = arn:aws:iam::111122223333:role/R\n"
      "[profile mfa]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = keys\n"
      "mfa_serial = arn:aws:iam::111122223333:mfa/me\n"
      "[profile long]\nrole_arn = arn:aws:iam::111122223333:role/R\nsource_profile = keys\n"
      "duration_seconds = 99999\n"
      "[profile halfkeys]\naws_access_key_id = AKIAHALF\n"
      "[profile badsource]\nrole_arn = arn:aws:iam::111122223333:role/R\n"
      "credential_source = EcsContainer\n"
      "[profile keys]\naws_access_key_id = AKIAKEYS\naws_secret_access_key = k\n");
  const std::map<std::string, std::string> expected = {
      {"a", "source_profile cycle: a -> b -> c -> a"},
      {"orphan", "source_profile \"nope\" of profile \"orphan\": no such profile"},
      {"both", "needs exactly one of source_profile"},
      {"neither", "needs exactly one of source_profile"},
      {"mfa", "mfa_serial"},
      {"long", "duration_seconds of profile \"long\" must be 900..43200"},
      {"halfkeys", "has aws_access_key_id but no aws_secret_access_key"},
      {"badsource", "must be Environment or Ec2InstanceMetadata"},
  };
  for (const auto& [profile, error] : expected) {
    vars_["AWS_PROFILE"] = profile;
    absl::StatusOr<ResolvedCredentials> r = Make().Credentials(Fast());
    ASSERT_FALSE(r.ok()) << profile;
    EXPECT_THAT(r.status().ToString(), HasSubstr(error)) << profile;
    EXPECT_THAT(r.status().ToString(), Not(HasSubstr("AKIAKEYS"))) << profile;
  }
}

TEST_F(CredentialChainTest, AssumeRoleProfilesNameTheirSource) {
  Config(
      "[profile admin]\nrole_arn = arn:aws:iam::111122223333:role/Admin\n"
      "source_profile = base\n"
      "[profile self]\nrole_arn = arn:aws:iam::111122223333:role/Admin\n"
      "source_profile = self\naws_access_key_id = AKIASELF\naws_secret_access_key = s\n"
      "[profile chained]\nrole_arn = arn:aws:iam::111122223333:role/Other\n"
      "source_profile = admin\n"
      "[profile fromenv]\nrole_arn = arn:aws:iam::111122223333:role/Admin\n"
      "credential_source = Environment\n");
  Credentials("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = b\n");
  vars_["AWS_REGION"] = "us-east-1";
  vars_["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:1";
  vars_["AWS_PROFILE"] = "admin";
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials(Fast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->source, AllOf(HasSubstr("AssumeRole arn:aws:iam::111122223333:role/Admin"),
                               HasSubstr("profile \"base\": static keys")));
  vars_["AWS_PROFILE"] = "self";
  r = Make().Credentials(Fast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->source, HasSubstr("with profile \"self\": static keys"));
  vars_["AWS_PROFILE"] = "chained";
  r = Make().Credentials(Fast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->source, AllOf(HasSubstr("role/Other with profile \"admin\": AssumeRole"),
                               HasSubstr("role/Admin with profile \"base\"")));
  // STS is unreachable here: the failure names the profile and the role.
  absl::StatusOr<aws::AwsCredentials> c = r->provider->GetCredentials();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().ToString(), HasSubstr("profile \"chained\": AssumeRole"));
  vars_["AWS_PROFILE"] = "fromenv";
  EXPECT_THAT(Make().Credentials(Fast()).status().ToString(),
              HasSubstr("credential_source = Environment"));
}

TEST_F(CredentialChainTest, MalformedFilesMatterOnlyWhenNeeded) {
  Config("[profile x]\nthis line is SECRETVALUE garbage\n");
  vars_["AWS_ACCESS_KEY_ID"] = "AKIAENV";
  vars_["AWS_SECRET_ACCESS_KEY"] = "s";
  vars_["AWS_REGION"] = "us-east-1";
  EXPECT_EQ(KeyId(Make()), "AKIAENV");
  EXPECT_EQ(*Make().Region(), "us-east-1");
  vars_.erase("AWS_ACCESS_KEY_ID");
  vars_.erase("AWS_SECRET_ACCESS_KEY");
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials(Fast());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(),
              AllOf(HasSubstr(dir_.path() + "/.aws/config (AWS_CONFIG_FILE) is malformed: line 2"),
                    Not(HasSubstr("SECRETVALUE"))));
}

TEST_F(CredentialChainTest, ProcessCredentialsAreCachedUntilNearExpiry) {
  const std::string count = dir_.path() + "/runs";
  const absl::Time now = absl::Now();
  Config(absl::StrCat("[default]\ncredential_process = /bin/sh -c 'echo x >> ", count,
                      "; printf \"%s\" \"$0\"' '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROC\", ",
                      "\"SecretAccessKey\": \"p\", \"Expiration\": \"",
                      FormatRfc3339(now + absl::Hours(1)), "\"}'\n"));
  FakeClock clock(now);
  CredentialChainOptions options = Fast();
  options.clock = &clock;
  absl::StatusOr<ResolvedCredentials> r = Make().Credentials(options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_NE(r->temporary, nullptr);
  EXPECT_EQ(r->provider->GetCredentials()->access_key_id, "AKIAPROC");
  EXPECT_EQ(r->provider->GetCredentials()->access_key_id, "AKIAPROC");
  EXPECT_EQ(r->temporary->fetches(), 1);
  clock.Advance(absl::Minutes(50));
  r->provider->GetCredentials().IgnoreError();
  EXPECT_EQ(r->temporary->fetches(), 1);
  clock.Advance(absl::Minutes(6));  // within 5 minutes of the expiry: run again
  EXPECT_EQ(r->provider->GetCredentials()->access_key_id, "AKIAPROC");
  EXPECT_EQ(r->temporary->fetches(), 2);
}

TEST(CachingCredentialsProviderTest, ServesTheCacheWhileARefreshFailsUntilExpiry) {
  FakeClock clock(absl::FromUnixSeconds(1'000'000));
  int calls = 0;
  bool fail = false;
  CachingCredentialsProvider p(
      [&]() -> absl::StatusOr<RoleCredentials> {
        ++calls;
        if (fail) return absl::UnavailableError("down");
        RoleCredentials c;
        c.access_key_id = absl::StrCat("ASIA", calls);
        c.secret_access_key = SecretBytes::CopyFrom(std::string_view("s"));
        c.expiration = clock.Now() + absl::Minutes(15);
        return c;
      },
      absl::Minutes(5), &clock);
  EXPECT_EQ(p.GetCredentials()->access_key_id, "ASIA1");
  clock.Advance(absl::Minutes(11));
  fail = true;
  EXPECT_EQ(p.GetCredentials()->access_key_id, "ASIA1");  // refresh failed, still valid
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(p.GetCredentials().status().code(), absl::StatusCode::kUnavailable);
  fail = false;
  EXPECT_EQ(p.GetCredentials()->access_key_id, "ASIA4");
  EXPECT_EQ(p.fetches(), 2);
}

}  // namespace
}  // namespace lockout::awsclient
