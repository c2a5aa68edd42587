#pragma once

// SendSignedAttempt: one attempt of a SigV4-signed AWS call, shared by the JSON (KMS, Secrets
// Manager) and query (STS) clients: fetch credentials, sign the request, send it.
//
//   bool retryable = false;
//   absl::StatusOr<HttpResponse> response =
//       SendSignedAttempt(*transport_, *credentials_, http, {region, "kms", now}, timeout,
//                         what, &retryable);
//   if (!response.ok()) return AttemptResult{response.status(), retryable};
//
// A response is returned whatever its HTTP status; the caller parses error bodies (their shapes
// differ between the protocols). On failure `*retryable` says whether the attempt may be retried
// (a transport failure: unavailable or timed out); credential and signing failures are final.
// Error messages start with `what` ("kms.Decrypt: ...") and never contain credentials.

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/aws/http_request.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/http_transport.h"

namespace lockout::awsclient {

// Where and when a request is signed.
struct SigningScope {
  std::string_view region;
  std::string_view service;  // the SigV4 signing name ("kms", "secretsmanager", "sts")
  absl::Time now;
};

absl::StatusOr<HttpResponse> SendSignedAttempt(HttpTransport& transport,
                                               CredentialsProvider& credentials,
                                               aws::HttpRequest& http, const SigningScope& scope,
                                               absl::Duration timeout, std::string_view what,
                                               bool* retryable);

}  // namespace lockout::awsclient
