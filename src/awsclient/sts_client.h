#pragma once

// StsClient: AWS STS AssumeRole and GetCallerIdentity over the query protocol (form-encoded POST
// "Action=...&Version=2011-06-15", XML replies;
// https://docs.aws.amazon.com/STS/latest/APIReference/), signed with SigV4 (service "sts"). Used by
// the credential chain for profiles with role_arn.
//
// Replies are untrusted: a malformed one is Internal naming the element, never its text. Error
// replies (<ErrorResponse><Error><Code>...) become statuses carrying an AwsCallError
// (aws_call_error.h): AccessDenied -> PermissionDenied, InvalidClientTokenId / ExpiredToken ->
// Unauthenticated, ValidationError -> InvalidArgument. Throttling, 5xx and transport errors are
// retried per `retry`. The returned secret key and session token are SecretBytes; every copy in
// the reply is wiped.
// Thread-safety: thread-safe.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/http_transport.h"
#include "src/awsclient/retry_policy.h"

namespace lockout::awsclient {

struct AssumeRoleRequest {
  std::string role_arn;
  std::string role_session_name;
  std::optional<std::string> external_id;
  std::optional<int> duration_seconds;  // 900..43200; STS's default (3600) when unset
};

struct AssumeRoleResult {
  RoleCredentials credentials;
  std::string assumed_role_arn;  // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
  std::string assumed_role_id;   // AROA...:SESSION
};

struct CallerIdentity {
  std::string account;
  std::string arn;
  std::string user_id;
};

// Parsers of the replies' bodies (exposed for tests and the fuzz target).
absl::StatusOr<AssumeRoleResult> ParseAssumeRoleResponse(std::string_view body);
absl::StatusOr<CallerIdentity> ParseGetCallerIdentityResponse(std::string_view body);
// The AwsCallError of an error reply; {"HttpStatus<n>", ""} when the body is not one.
AwsCallError ParseQueryErrorResponse(int http_status, std::string_view body);

class StsClient final {
 public:
  static absl::StatusOr<std::unique_ptr<StsClient>> Create(
      EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
      RetryPolicy retry = {}, RetryEnvironment environment = {});

  absl::StatusOr<AssumeRoleResult> AssumeRole(const AssumeRoleRequest& request);
  absl::StatusOr<CallerIdentity> GetCallerIdentity();

 private:
  StsClient(std::unique_ptr<HttpTransport> transport,
            std::shared_ptr<CredentialsProvider> credentials, std::string region, RetryPolicy retry,
            RetryEnvironment environment);
  // POSTs the form and returns the body of a 2xx reply.
  absl::StatusOr<std::string> Call(std::string_view action, std::string form);

  std::unique_ptr<HttpTransport> transport_;
  std::shared_ptr<CredentialsProvider> credentials_;
  std::string region_;
  RetryPolicy retry_;
  RetryEnvironment environment_;
};

}  // namespace lockout::awsclient
