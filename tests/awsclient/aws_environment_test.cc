#include "src/awsclient/aws_environment.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace lockout::awsclient {
namespace {

AwsEnvironment Env(std::map<std::string, std::string> vars) {
  return AwsEnvironment([vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(AwsEnvironmentTest, RegionPrefersAwsRegionOverDefaultRegion) {
  EXPECT_EQ(*Env({{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "us-east-1"}}).Region(),
            "eu-west-1");
  EXPECT_EQ(*Env({{"AWS_DEFAULT_REGION", "us-east-2"}}).Region(), "us-east-2");
  EXPECT_EQ(*Env({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "us-east-2"}}).Region(), "us-east-2");
}

TEST(AwsEnvironmentTest, MissingRegionIsNotFoundAndBadRegionIsInvalid) {
  EXPECT_EQ(Env({}).Region().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Env({{"AWS_REGION", "US_EAST_1"}}).Region().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Env({{"AWS_REGION", "us-east-1/../x"}}).Region().status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AwsEnvironmentTest, ServiceEndpointDefaultsToAwsPublicEndpoint) {
  absl::StatusOr<EndpointConfig> kms = Env({}).ServiceEndpoint(kKmsService, "eu-central-1");
  ASSERT_TRUE(kms.ok()) << kms.status();
  EXPECT_EQ(kms->url.ToString(), "https://kms.eu-central-1.amazonaws.com/");
  EXPECT_EQ(kms->ca_bundle_path, kDefaultCaBundlePath);
  absl::StatusOr<EndpointConfig> sm = Env({}).ServiceEndpoint(kSecretsManagerService, "us-west-2");
  ASSERT_TRUE(sm.ok()) << sm.status();
  EXPECT_EQ(sm->url.ToString(), "https://secretsmanager.us-west-2.amazonaws.com/");
}

TEST(AwsEnvironmentTest, ServiceSpecificVariableWinsOverGenericEndpointUrl) {
  AwsEnvironment env = Env({{"AWS_ENDPOINT_URL", "http://127.0.0.1:4000"},
                            {"AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4001"},
                            {"AWS_CA_BUNDLE", "/etc/lockout/ca.pem"}});
  EXPECT_EQ(env.ServiceEndpoint(kKmsService, "us-east-1")->url.ToString(),
            "http://127.0.0.1:4001/");
  EXPECT_EQ(env.ServiceEndpoint(kSecretsManagerService, "us-east-1")->url.ToString(),
            "http://127.0.0.1:4000/");
  EXPECT_EQ(env.ServiceEndpoint(kKmsService, "us-east-1")->ca_bundle_path, "/etc/lockout/ca.pem");
  EXPECT_EQ(Env({{"AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://localhost:9"}})
                .ServiceEndpoint(kSecretsManagerService, "us-east-1")
                ->url.ToString(),
            "http://localhost:9/");
}

TEST(AwsEnvironmentTest, ServiceEndpointKeepsConnectVia) {
  absl::StatusOr<EndpointConfig> kms =
      Env({}).ServiceEndpoint(kKmsService, "us-east-1", net::Endpoint::Vsock(3, 8000));
  ASSERT_TRUE(kms.ok());
  EXPECT_EQ(kms->ConnectEndpoint().ToString(), "vsock://3:8000");
}

TEST(AwsEnvironmentTest, MalformedEndpointUrlIsInvalidArgument) {
  EXPECT_EQ(Env({{"AWS_ENDPOINT_URL_KMS", "localhost:4566"}})
                .ServiceEndpoint(kKmsService, "us-east-1")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Env({}).ServiceEndpoint(kKmsService, "not a region").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AwsEnvironmentTest, ImdsEndpointDefaultsToLinkLocalAddress) {
  EXPECT_EQ(Env({}).ImdsEndpoint()->url.ToString(), "http://169.254.169.254/");
  EXPECT_EQ(Env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338"}})
                .ImdsEndpoint()
                ->url.ToString(),
            "http://127.0.0.1:1338/");
}

TEST(AwsEnvironmentTest, CredentialsComeFromTheStandardVariables) {
  absl::StatusOr<aws::AwsCredentials> c = Env({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                               {"AWS_SECRET_ACCESS_KEY", "secret-canary"},
                                               {"AWS_SESSION_TOKEN", "token"}})
                                              .Credentials();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(c->secret_access_key.RevealAsString(), "secret-canary");
  EXPECT_EQ(c->session_token.RevealAsString(), "token");
  absl::StatusOr<aws::AwsCredentials> no_token =
      Env({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"}, {"AWS_SECRET_ACCESS_KEY", "s"}}).Credentials();
  ASSERT_TRUE(no_token.ok());
  EXPECT_TRUE(no_token->session_token.empty());
}

TEST(AwsEnvironmentTest, MissingOrHalfSetCredentialsFailWithoutQuotingTheSecret) {
  EXPECT_EQ(Env({}).Credentials().status().code(), absl::StatusCode::kNotFound);
  absl::Status half = Env({{"AWS_SECRET_ACCESS_KEY", "secret-canary"}}).Credentials().status();
  EXPECT_EQ(half.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(half.message()).find("secret-canary"), std::string::npos);
  EXPECT_EQ(Env({{"AWS_ACCESS_KEY_ID", "AKID"}}).Credentials().status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::awsclient
