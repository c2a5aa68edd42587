#pragma once

// ImdsClient: the EC2 instance metadata service, version 2 (session tokens), for the instance
// role's credentials.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
//
//   PUT /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: TTL)      -> token
//   GET /latest/meta-data/iam/security-credentials/    (X-aws-ec2-metadata-token) -> role name
//   GET /latest/meta-data/iam/security-credentials/ROLE                     -> credentials JSON
//
// The token is cached until shortly before its TTL ends and fetched again when IMDS answers 401.
// Calls are retried (jittered backoff, deadline) on connection errors, 5xx and 429. IMDS errors:
// 404 -> NotFound (e.g. no role attached), 403 -> PermissionDenied (IMDS refused the token).
// Credentials (secret key and session token) are kept in SecretBytes; the token too. Errors never
// contain tokens or credentials.
//
// ImdsCredentialsProvider caches the role credentials and refreshes them a margin before they
// expire; it is what the relay signs Secrets Manager calls with and hands to the enclave.
//
// Thread-safety: both classes are thread-safe.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/aws/sigv4.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/http_transport.h"
#include "src/awsclient/retry_policy.h"
#include "src/common/secret_bytes.h"

namespace lockout::awsclient {

// Parses IMDS's credentials document ({"Code": "Success", "AccessKeyId", "SecretAccessKey",
// "Token", "Expiration": RFC 3339, ...}). Untrusted input: InvalidArgument naming the field (never
// its value) when it is not a JSON object, Code is not "Success", a field is missing or not a
// string, or Expiration is not a timestamp. Every intermediate copy of a secret is wiped.
absl::StatusOr<RoleCredentials> ParseRoleCredentials(std::string_view body);

// The session token in the body of IMDS's reply to PUT /latest/api/token: the body without
// surrounding whitespace. Unavailable (giving only the size) if that is empty or longer than
// 4096 bytes.
absl::StatusOr<SecretBytes> ParseImdsToken(std::string_view body);

// The instance role's name from the security-credentials listing: its first line, trimmed.
// NotFound if the listing is empty; InvalidArgument (giving only the size) if the line is not
// an IAM role name (1..128 of [A-Za-z0-9+=,.@_-]).
absl::StatusOr<std::string> ParseRoleNameListing(std::string_view body);

struct ImdsOptions {
  absl::Duration token_ttl = absl::Seconds(21600);  // IMDS allows 1 s .. 6 h
  RetryPolicy retry = {.max_attempts = 4,
                       .initial_backoff = absl::Milliseconds(100),
                       .max_backoff = absl::Seconds(1),
                       .total_timeout = absl::Seconds(10),
                       .attempt_timeout = absl::Seconds(2)};
  RetryEnvironment environment;
  size_t max_response_bytes = 64 << 10;
};

class ImdsClient final {
 public:
  ImdsClient(std::unique_ptr<HttpTransport> transport, ImdsOptions options);
  static absl::StatusOr<std::unique_ptr<ImdsClient>> Create(EndpointConfig endpoint,
                                                            ImdsOptions options = {});

  // GET /latest/meta-data/<path> (e.g. "instance-id", "placement/region"), trimmed.
  absl::StatusOr<std::string> GetMetadata(std::string_view path);
  // The instance role's name (first line of the security-credentials listing).
  absl::StatusOr<std::string> GetRoleName();
  absl::StatusOr<RoleCredentials> GetRoleCredentials(std::string_view role_name);
  // GetRoleName, then GetRoleCredentials.
  absl::StatusOr<RoleCredentials> GetCredentials();

  // Token requests made so far (for tests and metrics).
  int tokens_fetched() const;

 private:
  // GET `path` with a token; returns the body of a 200 reply.
  absl::StatusOr<std::string> Get(std::string_view path, bool secret_body);
  absl::Status FetchToken(absl::Duration timeout);

  std::unique_ptr<HttpTransport> transport_;
  ImdsOptions options_;
  mutable absl::Mutex mu_;
  SecretBytes token_ ABSL_GUARDED_BY(mu_);
  absl::Time token_refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int tokens_fetched_ ABSL_GUARDED_BY(mu_) = 0;
};

class ImdsCredentialsProvider final : public CachingCredentialsProvider {
 public:
  // `client` is shared; credentials are refreshed `refresh_margin` before they expire. If a
  // refresh fails while the cached credentials have not expired yet, those are returned.
  ImdsCredentialsProvider(std::shared_ptr<ImdsClient> client,
                          absl::Duration refresh_margin = absl::Minutes(5),
                          const Clock* clock = &Clock::Real());
};

}  // namespace lockout::awsclient
