#include "src/awsclient/signed_attempt.h"

#include "absl/strings/str_cat.h"
#include "src/aws/sigv4.h"
#include "src/common/strings.h"

namespace lockout::awsclient {

absl::StatusOr<HttpResponse> SendSignedAttempt(HttpTransport& transport,
                                               CredentialsProvider& credentials,
                                               aws::HttpRequest& http, const SigningScope& scope,
                                               absl::Duration timeout, std::string_view what,
                                               bool* retryable) {
  *retryable = false;
  absl::StatusOr<aws::AwsCredentials> creds = credentials.GetCredentials();
  if (!creds.ok()) {
    return absl::Status(creds.status().code(),
                        absl::StrCat(Absl(what), ": no credentials: ", creds.status().message()));
  }
  absl::StatusOr<aws::SigningResult> signed_request =
      aws::SignRequest(http, *creds, scope.region, scope.service, scope.now);
  if (!signed_request.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(what), ": cannot sign: ", signed_request.status().message()));
  }
  absl::StatusOr<HttpResponse> response = transport.Send(http, timeout);
  if (!response.ok()) {
    *retryable = response.status().code() == absl::StatusCode::kUnavailable ||
                 response.status().code() == absl::StatusCode::kDeadlineExceeded;
    return absl::Status(response.status().code(),
                        absl::StrCat(Absl(what), ": ", response.status().message()));
  }
  return response;
}

}  // namespace lockout::awsclient
