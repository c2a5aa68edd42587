#pragma once

// AwsConfig: region and credentials resolved the way the AWS CLI and SDKs do, from the
// environment and the shared config/credentials files (shared_config.h).
//
// Credentials, first source that has them wins (the SDKs' order):
//   1. environment     AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   2. profile         AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE
//                      (~/.aws/credentials) and AWS_CONFIG_FILE (~/.aws/config), in this order:
//        role_arn      + source_profile (a profile resolved the same way; chains allowed, cycles
//                      refused; a profile naming itself uses its own static keys) or
//                      + credential_source (Environment | Ec2InstanceMetadata): STS AssumeRole
//                      with role_session_name (default lockout-<unix time>), external_id,
//                      duration_seconds (900..43200); STS at AWS_ENDPOINT_URL_STS, else
//                      AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com
//        static keys   aws_access_key_id + aws_secret_access_key (+ aws_session_token) in the
//                      credentials file
//        credential_process   an external command (process_credentials.h)
//        static keys   the same keys in the config file
//   3. instance role   IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT or 169.254.169.254), unless
//                      AWS_EC2_METADATA_DISABLED=true
// Assumed-role and process credentials are cached and fetched again `refresh_margin` before
// they expire (CachingCredentialsProvider). A profile that exists but is broken (a missing
// source_profile, a cycle, keys without a secret, mfa_serial) is an error, not skipped; a
// profile with no credential settings at all (only a region) falls through to IMDS, as in the
// SDKs. When nothing has credentials the error names every source tried and what to set.
//
// Region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region`.
// Errors never contain credential values or file contents. Thread-safety: const methods are
// thread-safe; the returned providers are thread-safe.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/awsclient/aws_environment.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/imds_client.h"
#include "src/awsclient/process_credentials.h"
#include "src/awsclient/retry_policy.h"
#include "src/awsclient/shared_config.h"

namespace lockout::awsclient {

struct CredentialChainOptions {
  absl::Duration refresh_margin = absl::Minutes(5);
  const Clock* clock = &Clock::Real();
  RetryPolicy sts_retry = {.max_attempts = 3,
                           .initial_backoff = absl::Milliseconds(100),
                           .max_backoff = absl::Seconds(1),
                           .total_timeout = absl::Seconds(20),
                           .attempt_timeout = absl::Seconds(10)};
  ProcessCredentialsOptions process;
  ImdsOptions imds;
};

struct ResolvedCredentials {
  std::shared_ptr<CredentialsProvider> provider;
  // Where they come from, for messages: "environment", "profile \"dev\": static keys in PATH",
  // "profile \"admin\": role ARN assumed with profile \"base\" (...)", "instance role (IMDS)".
  std::string source;
  // Set for temporary credentials (assumed role, credential_process, IMDS): their expiry.
  std::shared_ptr<CachingCredentialsProvider> temporary;
};

class AwsConfig final {
 public:
  // Reads the shared files now; an error reading them is kept and reported by Region() and
  // Credentials() only when they need the files.
  explicit AwsConfig(EnvLookup lookup = ProcessEnvironment());

  const AwsEnvironment& env() const { return env_; }
  // AWS_PROFILE or "default".
  std::string profile_name() const;

  absl::StatusOr<std::string> Region() const;
  absl::StatusOr<ResolvedCredentials> Credentials(const CredentialChainOptions& options = {}) const;

 private:
  absl::StatusOr<ResolvedCredentials> FromProfile(const SharedConfig& shared,
                                                  const std::string& profile,
                                                  std::vector<std::string>& visited,
                                                  const CredentialChainOptions& options) const;
  absl::StatusOr<ResolvedCredentials> AssumeRole(const SharedConfig& shared,
                                                 const std::string& profile,
                                                 const std::string& role_arn,
                                                 ResolvedCredentials source,
                                                 const CredentialChainOptions& options) const;
  absl::StatusOr<ResolvedCredentials> Imds(const CredentialChainOptions& options) const;
  bool ImdsDisabled() const;

  EnvLookup lookup_;
  AwsEnvironment env_;
  absl::StatusOr<SharedConfig> shared_;
};

}  // namespace lockout::awsclient
