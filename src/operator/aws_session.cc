#include "src/operator/aws_session.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout::ops {

absl::StatusOr<AwsSession> AwsSessionFromEnvironment(const awsclient::AwsConfig& config,
                                                     awsclient::RetryPolicy retry) {
  const awsclient::AwsEnvironment& env = config.env();
  AwsSession session;
  absl::StatusOr<std::string> region = config.Region();
  if (!region.ok()) return region.status();
  session.region = *region;

  absl::StatusOr<awsclient::ResolvedCredentials> credentials = config.Credentials();
  if (!credentials.ok()) return credentials.status();
  session.credentials = credentials->provider;
  session.credentials_source = credentials->source;
  session.temporary_credentials = credentials->temporary;

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
