#pragma once

// AWS clients for the operator commands, configured like the AWS CLI: region, endpoints, CA
// bundle and credentials from the standard AWS_* variables and the shared config and credentials
// files (src/awsclient/credential_chain.h: environment, then AWS_PROFILE's profile with static
// keys, role_arn + source_profile through STS AssumeRole, or credential_process, then the
// instance role through IMDSv2 unless AWS_EC2_METADATA_DISABLED=true), so
// `eval "$(lockout local-aws env ...)"` or `AWS_PROFILE=admin` points every command where the AWS
// CLI would go. Never from a flag: credentials do not belong on command lines.
// Errors: the resolver's (NotFound naming what was tried and what to set, InvalidArgument for
// malformed URLs/regions/profiles). Thread-safety: the returned clients are thread-safe.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/awsclient/credential_chain.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"

namespace lockout::ops {

struct AwsSession {
  std::string region;
  std::shared_ptr<awsclient::CredentialsProvider> credentials;
  std::unique_ptr<awsclient::KmsClient> kms;
  std::unique_ptr<awsclient::SecretsClient> secrets;
  // Where the credentials came from (ResolvedCredentials::source).
  std::string credentials_source;
  // For temporary credentials (assumed role, credential_process, IMDS): their cache and expiry.
  std::shared_ptr<awsclient::CachingCredentialsProvider> temporary_credentials;
};

// Builds both clients from `config`. Retries follow `retry` (operator commands: few, short).
absl::StatusOr<AwsSession> AwsSessionFromEnvironment(
    const awsclient::AwsConfig& config = awsclient::AwsConfig(),
    awsclient::RetryPolicy retry = {.max_attempts = 3,
                                    .initial_backoff = absl::Milliseconds(100),
                                    .max_backoff = absl::Seconds(1),
                                    .total_timeout = absl::Seconds(20),
                                    .attempt_timeout = absl::Seconds(10)});

}  // namespace lockout::ops
