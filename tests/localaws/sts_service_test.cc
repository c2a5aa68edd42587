// local-aws STS through its HTTP front door (a real LocalAws on a free port) with lockout's
// StsClient and credential chain: GetCallerIdentity, AssumeRole and its refusals, assumed-role
// sessions as principals of KMS, expiry, persistence, and the query protocol's parsing and
// XML errors.

#include "src/localaws/sts_service.h"

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/awsclient/credential_chain.h"
#include "src/awsclient/http_transport.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/sts_client.h"
#include "src/common/clock.h"
#include "src/localaws/aws_query.h"
#include "src/localaws/local_aws.h"
#include "tests/testing/temp_dir.h"

namespace lockout::localaws {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class StsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    LocalAwsOptions options;
    options.state_dir = dir_.path() + "/state";
    options.nsm_socket = dir_.path() + "/nsm.sock";
    options.threads = 2;
    auto la = LocalAws::Start(options, clock_);
    ASSERT_TRUE(la.ok()) << la.status();
    local_aws_ = *std::move(la);
    auto ready = local_aws_->ReadyJson();
    ASSERT_TRUE(ready.ok()) << ready.status();
    ready_ = *ready;
    account_ = ready_["account"].get<std::string>();
    key_admin_ = ready_["roles"]["KeyAdmin"].get<std::string>();
  }

  std::shared_ptr<awsclient::CredentialsProvider> Principal(const std::string& name) {
    const auto& p = ready_["principals"][name];
    aws::AwsCredentials c;
    c.access_key_id = p["access_key_id"].get<std::string>();
    c.secret_access_key = SecretBytes::CopyFrom(p["secret_access_key"].get<std::string>());
    if (p.contains("session_token")) {
      c.session_token = SecretBytes::CopyFrom(p["session_token"].get<std::string>());
    }
    return std::make_shared<awsclient::StaticCredentialsProvider>(std::move(c));
  }
  std::shared_ptr<awsclient::CredentialsProvider> Session(const awsclient::RoleCredentials& c) {
    return std::make_shared<awsclient::StaticCredentialsProvider>(c.ToAwsCredentials());
  }
  awsclient::RetryEnvironment RetryEnv() {
    awsclient::RetryEnvironment env;
    env.clock = &clock_;
    return env;
  }
  std::unique_ptr<awsclient::StsClient> Sts(std::shared_ptr<awsclient::CredentialsProvider> c) {
    auto sts = awsclient::StsClient::Create(
        *awsclient::EndpointConfig::FromUrl(ready_["sts_endpoint"].get<std::string>()),
        std::move(c), "us-east-1", {.max_attempts = 1}, RetryEnv());
    EXPECT_TRUE(sts.ok()) << sts.status();
    return *std::move(sts);
  }
  std::unique_ptr<awsclient::KmsClient> Kms(std::shared_ptr<awsclient::CredentialsProvider> c) {
    auto kms = awsclient::KmsClient::Create(
        *awsclient::EndpointConfig::FromUrl(ready_["kms_endpoint"].get<std::string>()),
        std::move(c), "us-east-1", {.max_attempts = 1}, RetryEnv());
    EXPECT_TRUE(kms.ok()) << kms.status();
    return *std::move(kms);
  }
  absl::StatusOr<awsclient::AssumeRoleResult> Assume(const std::string& principal,
                                                     const std::string& role,
                                                     std::string session = "s1",
                                                     std::optional<int> duration = 900) {
    return Sts(Principal(principal))
        ->AssumeRole({.role_arn = role,
                      .role_session_name = session,
                      .external_id = std::nullopt,
                      .duration_seconds = duration});
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::Now()};
  std::unique_ptr<LocalAws> local_aws_;
  nlohmann::ordered_json ready_;
  std::string account_, key_admin_;
};

TEST_F(StsServiceTest, GetCallerIdentityOfEachPrincipal) {
  for (const char* name : {"root", "admin", "instance"}) {
    absl::StatusOr<awsclient::CallerIdentity> id = Sts(Principal(name))->GetCallerIdentity();
    ASSERT_TRUE(id.ok()) << name << ": " << id.status();
    EXPECT_EQ(id->account, account_);
    EXPECT_EQ(id->arn, ready_["principals"][name]["arn"].get<std::string>());
  }
  EXPECT_EQ(Sts(Principal("root"))->GetCallerIdentity()->user_id, account_);
  EXPECT_THAT(Sts(Principal("admin"))->GetCallerIdentity()->user_id,
              MatchesRegex("AIDA[A-Z2-7]{17}"));
  EXPECT_THAT(Sts(Principal("instance"))->GetCallerIdentity()->user_id,
              MatchesRegex("AROA[A-Z2-7]{17}:i-0123456789abcdef0"));
}

TEST_F(StsServiceTest, AssumedRoleSessionsAreThePrincipalsOfTheirRole) {
  absl::StatusOr<awsclient::AssumeRoleResult> r = Assume("admin", key_admin_, "alice");
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string session_arn =
      absl::StrCat("arn:aws:sts::", account_, ":assumed-role/KeyAdmin/alice");
  EXPECT_EQ(r->assumed_role_arn, session_arn);
  EXPECT_THAT(r->assumed_role_id, MatchesRegex("AROA[A-Z2-7]{17}:alice"));
  EXPECT_THAT(r->credentials.access_key_id, MatchesRegex("ASIA[A-Z2-7]{16}"));
  EXPECT_NEAR(absl::ToDoubleSeconds(r->credentials.expiration - clock_.Now()), 900, 1);
  absl::StatusOr<awsclient::CallerIdentity> id = Sts(Session(r->credentials))->GetCallerIdentity();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->arn, session_arn);
  EXPECT_EQ(id->user_id, r->assumed_role_id);

  // KMS: the role's identity policy (kms:*) lets the session create a key; a key policy naming
  // only the role lets it, and not the admin user, describe the key.
  auto role_kms = Kms(Session(r->credentials));
  awsclient::CreateKeyRequest create;
  create.policy = absl::StrCat(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::)",
      account_, R"(:root"},"Action":["kms:PutKeyPolicy","kms:GetKeyPolicy"],"Resource":"*"},)",
      R"({"Effect":"Allow","Principal":{"AWS":")", key_admin_,
      R"("},"Action":"kms:DescribeKey","Resource":"*"}]})");
  absl::StatusOr<awsclient::KeyMetadata> key = Kms(Principal("root"))->CreateKey(create);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(role_kms->DescribeKey(key->key_id).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Kms(Principal("admin"))->DescribeKey(key->key_id).status()));
  EXPECT_TRUE(role_kms->CreateKey({}).ok());
}

TEST_F(StsServiceTest, AssumeRoleRefusalsUseAwsWords) {
  const std::string instance = ready_["principals"]["instance"]["arn"].get<std::string>();
  const std::string admin = ready_["principals"]["admin"]["arn"].get<std::string>();
  struct Case {
    std::string principal, caller, role;
  };
  const Case cases[] = {
      {"instance", instance, key_admin_},
      {"admin", admin, absl::StrCat("arn:aws:iam::", account_, ":role/NoSuchRole")},
      {"admin", admin, ready_["instance_role_arn"].get<std::string>()},
  };
  for (const Case& c : cases) {
    absl::StatusOr<awsclient::AssumeRoleResult> r = Assume(c.principal, c.role);
    ASSERT_FALSE(r.ok()) << c.role;
    EXPECT_TRUE(awsclient::IsAwsErrorType(r.status(), "AccessDenied")) << r.status();
    EXPECT_THAT(r.status().ToString(),
                HasSubstr(absl::StrCat("User: ", c.caller,
                                       " is not authorized to perform: sts:AssumeRole on "
                                       "resource: ",
                                       c.role, " (HTTP 403)")));
  }
  // Role chaining: the role's policy has no sts:AssumeRole.
  absl::StatusOr<awsclient::AssumeRoleResult> r = Assume("root", key_admin_);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<awsclient::AssumeRoleResult> chained =
      Sts(Session(r->credentials))
          ->AssumeRole({.role_arn = ready_["roles"]["KeyPolicyBreakGlass"].get<std::string>(),
                        .role_session_name = "chain",
                        .external_id = std::nullopt,
                        .duration_seconds = std::nullopt});
  EXPECT_TRUE(awsclient::IsAwsErrorType(chained.status(), "AccessDenied")) << chained.status();

  auto validation = [](const absl::StatusOr<awsclient::AssumeRoleResult>& x) {
    return awsclient::IsAwsErrorType(x.status(), "ValidationError");
  };
  EXPECT_TRUE(validation(Assume("admin", key_admin_, "s1", 3601)));
  EXPECT_THAT(Assume("admin", key_admin_, "s1", 3601).status().ToString(),
              HasSubstr("MaxSessionDuration"));
  EXPECT_TRUE(validation(Assume("admin", key_admin_, "s1", 899)));
  EXPECT_TRUE(validation(Assume("admin", key_admin_, "a")));
  EXPECT_TRUE(validation(Assume("admin", key_admin_, "bad/name")));
  EXPECT_TRUE(validation(Assume("admin", "arn:aws:iam::1:r")));       // < 20 characters
  EXPECT_TRUE(Assume("admin", key_admin_, "s1", std::nullopt).ok());  // default 3600
}

TEST_F(StsServiceTest, SessionsExpireAndSurviveARestart) {
  absl::StatusOr<awsclient::AssumeRoleResult> r = Assume("admin", key_admin_);
  ASSERT_TRUE(r.ok()) << r.status();
  local_aws_->Stop();
  local_aws_.reset();
  Start();
  EXPECT_TRUE(Sts(Session(r->credentials))->GetCallerIdentity().ok());
  clock_.Advance(absl::Seconds(901));
  absl::StatusOr<awsclient::CallerIdentity> id = Sts(Session(r->credentials))->GetCallerIdentity();
  EXPECT_TRUE(awsclient::IsAwsErrorType(id.status(), "ExpiredToken")) << id.status();
}

TEST_F(StsServiceTest, TheCredentialChainAssumesARoleThroughAProfile) {
  const auto& admin = ready_["principals"]["admin"];
  std::ofstream(dir_.path() + "/config")
      << "[profile admin]\nrole_arn = " << key_admin_
      << "\nsource_profile = base\nrole_session_name = chain-test\nduration_seconds = 900\n"
      << "[profile base]\naws_access_key_id = " << admin["access_key_id"].get<std::string>()
      << "\naws_secret_access_key = " << admin["secret_access_key"].get<std::string>() << "\n";
  std::map<std::string, std::string> vars = {
      {"AWS_CONFIG_FILE", dir_.path() + "/config"},
      {"AWS_SHARED_CREDENTIALS_FILE", dir_.path() + "/none"},
      {"AWS_PROFILE", "admin"},
      {"AWS_REGION", "us-east-1"},
      {"AWS_EC2_METADATA_DISABLED", "true"},
      {"AWS_ENDPOINT_URL_STS", ready_["sts_endpoint"].get<std::string>()}};
  awsclient::AwsConfig config([vars](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(std::string(n));
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  awsclient::CredentialChainOptions options;
  options.clock = &clock_;
  absl::StatusOr<awsclient::ResolvedCredentials> r = config.Credentials(options);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<awsclient::CallerIdentity> id = Sts(r->provider)->GetCallerIdentity();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->arn, absl::StrCat("arn:aws:sts::", account_, ":assumed-role/KeyAdmin/chain-test"));
  EXPECT_TRUE(Kms(r->provider)->CreateKey({}).ok());
  EXPECT_EQ(r->temporary->fetches(), 1);  // cached
  clock_.Advance(absl::Minutes(11));      // 15-minute session, 5-minute margin: refreshed
  EXPECT_TRUE(Sts(r->provider)->GetCallerIdentity().ok());
  EXPECT_EQ(r->temporary->fetches(), 2);
}

TEST_F(StsServiceTest, QueryErrorsAreXmlAsAwsSendsThem) {
  auto transport = awsclient::HttpTransport::Create(
      *awsclient::EndpointConfig::FromUrl(ready_["sts_endpoint"].get<std::string>()));
  ASSERT_TRUE(transport.ok());
  aws::HttpRequest request;
  request.method = "POST";
  request.target = "/";
  request.SetHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = "Action=GetCallerIdentity&Version=2011-06-15";
  aws::AwsCredentials c = *Principal("admin")->GetCredentials();
  request.SetHeader("Host", (*transport)->endpoint().url.HostHeader());
  ASSERT_TRUE(aws::SignRequest(request, c, "us-east-1", "sts", clock_.Now()).ok());
  request.body = "Action=GetCallerIdentity&Version=2011-06-16";  // the signature no longer fits
  absl::StatusOr<awsclient::HttpResponse> response = (*transport)->Send(request, absl::Seconds(10));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 403);
  EXPECT_THAT(
      response->body,
      AllOf(HasSubstr("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
            HasSubstr("<Code>SignatureDoesNotMatch</Code>"), HasSubstr("<RequestId>")));
  ASSERT_TRUE(aws::SignRequest(request, c, "us-east-1", "sts", clock_.Now()).ok());
  request.body = "Action=Nope&Version=2011-06-15";
  ASSERT_TRUE(aws::SignRequest(request, c, "us-east-1", "sts", clock_.Now()).ok());
  response = (*transport)->Send(request, absl::Seconds(10));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 400);
  EXPECT_THAT(response->body, HasSubstr("<Code>InvalidAction</Code>"));
  request.body = "Action=GetCallerIdentity&Action=AssumeRole";
  ASSERT_TRUE(aws::SignRequest(request, c, "us-east-1", "sts", clock_.Now()).ok());
  response = (*transport)->Send(request, absl::Seconds(10));
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(response->body, HasSubstr("<Code>MalformedQueryString</Code>"));
}

TEST(AwsQueryTest, ParsesForms) {
  absl::StatusOr<QueryParams> p =
      ParseQueryForm("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&a+b=c+d&&e=&f");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("Action"), "AssumeRole");
  EXPECT_EQ(p->at("RoleArn"), "arn:aws:iam::1:role/x");
  EXPECT_EQ(p->at("a b"), "c d");
  EXPECT_EQ(p->at("e"), "");
  EXPECT_EQ(p->at("f"), "");
  EXPECT_TRUE(ParseQueryForm("")->empty());
}

TEST(AwsQueryTest, RefusesMalformedForms) {
  const char* bad[] = {"a=%", "a=%4", "a=%zz", "%GG=1", "=1", "a=1&a=2", "a=%00", "%00=1"};
  for (const char* form : bad) {
    absl::StatusOr<QueryParams> p = ParseQueryForm(form);
    ASSERT_FALSE(p.ok()) << form;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::string many;
  for (size_t i = 0; i <= kMaxQueryParams; ++i) absl::StrAppend(&many, "p", i, "=1&");
  EXPECT_THAT(ParseQueryForm(many).status().ToString(), HasSubstr("more than"));
}

TEST(AwsQueryTest, EscapesXml) {
  EXPECT_EQ(XmlEscape(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
}

}  // namespace
}  // namespace lockout::localaws
