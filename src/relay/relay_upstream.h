#pragma once

// Where lockout-relay gets what it hands out: the instance role's credentials (IMDSv2) and
// secret values (Secrets Manager GetSecretValue).
//
// RelayUpstream is the seam the request handler (relay_service.h) is written against; tests
// substitute a fake. AwsRelayUpstream is the real one, built on src/awsclient: IMDSv2 credentials
// through a CredentialCache (refreshed `refresh_margin` before expiry), and Secrets Manager calls
// signed with those same credentials.
//
// Secret values are fetched on every request, not cached: the enclave asks once at boot (or per
// signature only in the seed-comparison mode), a fresh read picks up a rotated key at once, and
// the relay holds no ciphertext between requests. The latency is visible in
// lockout_relay_upstream_latency_seconds{operation="get_secret_value"}.
//
// Thread-safety: implementations must be thread-safe (the server calls them from one thread per
// connection). AwsRelayUpstream is.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/imds_client.h"
#include "src/awsclient/retry_policy.h"
#include "src/awsclient/secrets_client.h"
#include "src/common/clock.h"
#include "src/relay/credential_cache.h"
#include "src/relay/relay_metrics.h"

namespace lockout::relay {

class RelayUpstream {
 public:
  virtual ~RelayUpstream() = default;
  // Currently valid role credentials. Errors: IMDS's (Unavailable, NotFound when the instance
  // has no role, ...), never containing credential values.
  virtual absl::StatusOr<awsclient::RoleCredentials> GetCredentials() = 0;
  // The current value of `secret_id`. Errors carry an awsclient::AwsCallError for service errors
  // (NotFound for ResourceNotFoundException, PermissionDenied for AccessDeniedException, ...).
  virtual absl::StatusOr<awsclient::SecretValue> GetSecretValue(std::string_view secret_id) = 0;
  // Stores `value` as the SecretBinary of `name` (put_secret): CreateSecret; if the secret exists
  // and `overwrite`, a new current version (PutSecretValue). Returns the new VersionId. Errors:
  // AlreadyExists (ResourceExistsException) when it exists and !overwrite; as GetSecretValue's.
  virtual absl::StatusOr<std::string> PutSecret(std::string_view name, const SecretBytes& value,
                                                bool overwrite) = 0;
};

struct AwsRelayUpstreamOptions {
  absl::Duration refresh_margin = absl::Minutes(5);
  // Secrets Manager calls, retries included, give up after total_timeout (well inside
  // RelayClient's 30 s default, so the enclave hears a clear "upstream unavailable").
  awsclient::RetryPolicy secrets_retry = {.max_attempts = 4,
                                          .initial_backoff = absl::Milliseconds(100),
                                          .max_backoff = absl::Seconds(2),
                                          .total_timeout = absl::Seconds(15),
                                          .attempt_timeout = absl::Seconds(5)};
  awsclient::ImdsOptions imds_options;
  // Reads the credential cache's time (tests pass a FakeClock). Not null; outlives the upstream.
  const Clock* clock = &Clock::Real();
};

class AwsRelayUpstream final : public RelayUpstream {
 public:
  // Builds the IMDS and Secrets Manager clients (no network traffic yet). `metrics` may be null;
  // it must outlive the upstream. Errors: InvalidArgument for an empty region, transport
  // creation errors (e.g. an unusable CA bundle for an https endpoint).
  static absl::StatusOr<std::unique_ptr<AwsRelayUpstream>> Create(
      awsclient::EndpointConfig imds, awsclient::EndpointConfig secrets_manager, std::string region,
      AwsRelayUpstreamOptions options, RelayMetrics* metrics);

  absl::StatusOr<awsclient::RoleCredentials> GetCredentials() override;
  absl::StatusOr<awsclient::SecretValue> GetSecretValue(std::string_view secret_id) override;
  absl::StatusOr<std::string> PutSecret(std::string_view name, const SecretBytes& value,
                                        bool overwrite) override;

  CredentialCache& credentials() { return *cache_; }

 private:
  AwsRelayUpstream() = default;

  std::shared_ptr<awsclient::ImdsClient> imds_;
  std::shared_ptr<CredentialCache> cache_;
  std::unique_ptr<awsclient::SecretsClient> secrets_;
};

}  // namespace lockout::relay
