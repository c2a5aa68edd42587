#pragma once

// AWS clients for the operator commands, configured like the AWS CLI: region, endpoints, CA
// bundle and credentials from the standard AWS_* variables (src/awsclient/aws_environment.h), so
// `eval "$(lockout local-aws env ...)"` points every command at local-aws. Credentials: the
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN) pair if set, else the instance
// role through IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT or 169.254.169.254). Never from a flag:
// credentials do not belong on command lines.
// Errors: the resolver's (NotFound naming the missing variable, InvalidArgument for malformed
// URLs/regions). Thread-safety: the returned clients are thread-safe.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/awsclient/aws_environment.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"

namespace lockout::ops {

struct AwsSession {
  std::string region;
  std::shared_ptr<awsclient::CredentialsProvider> credentials;
  std::unique_ptr<awsclient::KmsClient> kms;
  std::unique_ptr<awsclient::SecretsClient> secrets;
  // Where the credentials came from: "environment" or "instance role (IMDS)".
  std::string credentials_source;
};

// Builds both clients from `env`. Retries follow `retry` (operator commands: few, short).
absl::StatusOr<AwsSession> AwsSessionFromEnvironment(
    const awsclient::AwsEnvironment& env = awsclient::AwsEnvironment(),
    awsclient::RetryPolicy retry = {.max_attempts = 3,
                                    .initial_backoff = absl::Milliseconds(100),
                                    .max_backoff = absl::Seconds(1),
                                    .total_timeout = absl::Seconds(20),
                                    .attempt_timeout = absl::Seconds(10)});

}  // namespace lockout::ops
