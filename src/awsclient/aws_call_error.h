#pragma once

// Errors returned by AWS services, as absl::Status with a recoverable type name.
//
// An AWS JSON 1.1 error reply ({"__type": "...", "message": "..."}, HTTP 4xx/5xx) becomes an
// absl::Status whose code follows the error (AccessDeniedException -> PermissionDenied, ...) and
// which carries an AwsCallError payload, so callers can branch on the exact AWS type:
//
//   absl::StatusOr<DecryptResult> r = kms.Decrypt(request);
//   if (IsAwsErrorType(r.status(), "AccessDeniedException")) { ... }
//
// The message of the status is "<service>.<Operation>: <Type>: <AWS message> (HTTP <n>)". The
// AWS message is the server's text, trimmed to printable ASCII and a bounded length. Our
// requests never put credentials or plaintexts where AWS would echo them; the client never adds
// request or response bytes to errors.
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "src/aws/http_request.h"

namespace lockout::awsclient {

struct AwsCallError {
  std::string type;     // "AccessDeniedException" (any "namespace#" prefix removed)
  std::string message;  // sanitised server message, may be empty
  int http_status = 0;
};

// Longest server message kept in an AwsCallError.
inline constexpr size_t kMaxAwsErrorMessage = 512;

// Parses an error reply. The type comes from the body's "__type" (or "code"), else from the
// X-Amzn-ErrorType header (text before ':'), else "HttpStatus<n>". The message from "message" or
// "Message". A body that is not a JSON object (a proxy's HTML page, garbage) is ignored, never
// quoted. Never fails.
AwsCallError ParseAwsErrorResponse(int http_status, const std::vector<aws::HttpHeader>& headers,
                                   std::string_view body);

// The absl::StatusCode an AWS error maps to.
absl::StatusCode StatusCodeForAwsError(const AwsCallError& error);

// Whether a failed call with this error may succeed when retried: throttling types, HTTP 429
// and 5xx. AccessDenied and other 4xx are final.
bool IsRetryableAwsError(const AwsCallError& error);

// Builds the status for `error` from a call to `what` ("kms.Decrypt").
absl::Status MakeAwsCallStatus(std::string_view what, const AwsCallError& error);

// The AwsCallError carried by `status`, nullopt if it carries none (transport errors, local
// validation errors, OK).
std::optional<AwsCallError> GetAwsCallError(const absl::Status& status);

// True if `status` carries an AwsCallError of exactly this type.
bool IsAwsErrorType(const absl::Status& status, std::string_view type);

}  // namespace lockout::awsclient
