#include "src/operator/aws_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/awsclient/imds_client.h"

namespace lockout::ops {

absl::StatusOr<AwsSession> AwsSessionFromEnvironment(const awsclient::AwsEnvironment& env,
                                                     awsclient::RetryPolicy retry) {
  AwsSession session;
  absl::StatusOr<std::string> region = env.Region();
  if (!region.ok()) {
    return absl::Status(
        region.status().code(),
        absl::StrCat(region.status().message(), " (set AWS_REGION, e.g. AWS_REGION=us-east-1)"));
  }
  session.region = *region;

  absl::StatusOr<aws::AwsCredentials> static_credentials = env.Credentials();
  if (static_credentials.ok()) {
    session.credentials =
        std::make_shared<awsclient::StaticCredentialsProvider>(*std::move(static_credentials));
    session.credentials_source = "environment";
  } else if (absl::IsNotFound(static_credentials.status())) {
    absl::StatusOr<awsclient::EndpointConfig> imds_endpoint = env.ImdsEndpoint();
    if (!imds_endpoint.ok()) return imds_endpoint.status();
    absl::StatusOr<std::unique_ptr<awsclient::ImdsClient>> imds =
        awsclient::ImdsClient::Create(*std::move(imds_endpoint));
    if (!imds.ok()) return imds.status();
    session.credentials = std::make_shared<awsclient::ImdsCredentialsProvider>(
        std::shared_ptr<awsclient::ImdsClient>(*std::move(imds)));
    session.credentials_source = "instance role (IMDS)";
  } else {
    return static_credentials.status();
  }

  absl::StatusOr<awsclient::EndpointConfig> kms_endpoint =
      env.ServiceEndpoint(awsclient::kKmsService, session.region);
  if (!kms_endpoint.ok()) return kms_endpoint.status();
  absl::StatusOr<std::unique_ptr<awsclient::KmsClient>> kms = awsclient::KmsClient::Create(
      *std::move(kms_endpoint), session.credentials, session.region, retry);
  if (!kms.ok()) return kms.status();
  session.kms = *std::move(kms);

  absl::StatusOr<awsclient::EndpointConfig> sm_endpoint =
      env.ServiceEndpoint(awsclient::kSecretsManagerService, session.region);
  if (!sm_endpoint.ok()) return sm_endpoint.status();
  absl::StatusOr<std::unique_ptr<awsclient::SecretsClient>> secrets =
      awsclient::SecretsClient::Create(*std::move(sm_endpoint), session.credentials, session.region,
                                       retry);
  if (!secrets.ok()) return secrets.status();
  session.secrets = *std::move(secrets);
  return session;
}

}  // namespace lockout::ops
