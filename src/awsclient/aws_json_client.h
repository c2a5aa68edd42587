#pragma once

// AwsJsonClient: calls one AWS JSON 1.1 service (KMS, Secrets Manager) with SigV4.
//
//   AwsJsonClient client(std::move(transport), credentials, {.service = kKmsService,
//                                                            .region = "us-east-1"});
//   ASSIGN_OR_RETURN(nlohmann::json reply, client.Call("DescribeKey", {{"KeyId", id}}));
//
// Each call is POST <endpoint path> with Content-Type application/x-amz-json-1.1 and
// X-Amz-Target <prefix>.<Operation>, signed (sigv4.h) for the service's signing name and the
// region, with the session token (X-Amz-Security-Token, signed) when the credentials have one.
// The request is re-signed for every attempt, with fresh credentials from the provider.
//
// Replies: 2xx with a JSON object (an empty body or "null" counts as {}) is the result. Error
// replies become a status carrying an AwsCallError (aws_call_error.h). Retried with jittered
// exponential backoff under the policy's deadline (retry_policy.h): throttling errors, HTTP 429 and
// 5xx, and transport failures (Unavailable, DeadlineExceeded of one attempt). Never retried:
// AccessDenied and every other 4xx, an untrusted TLS certificate, a reply over the size limit,
// a malformed success reply.
//
// Secrets: the serialised request (which may hold a base64 plaintext) and the raw reply are
// wiped after the call; callers wipe the strings of request and reply JSON that held secrets
// (WipeJsonStrings, src/common/json.h). Errors and logs carry the operation, types, sizes and HTTP
// status, never bodies, credentials or signatures.
//
// Thread-safety: Call is thread-safe if the credentials provider is (the bundled ones are).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/aws_service.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/http_transport.h"
#include "src/awsclient/retry_policy.h"

namespace lockout::awsclient {

struct AwsJsonClientOptions {
  AwsService service = kKmsService;
  std::string region;
  RetryPolicy retry;
  // Clock for signing and deadlines, sleeping and jitter (tests inject fakes).
  RetryEnvironment environment;
  // Largest JSON reply accepted (the transport's body limit should be at least this).
  size_t max_response_bytes = 1 << 20;
};

class AwsJsonClient final {
 public:
  // `transport` and `credentials` must not be null.
  AwsJsonClient(std::unique_ptr<HttpTransport> transport,
                std::shared_ptr<CredentialsProvider> credentials, AwsJsonClientOptions options);

  // Builds the transport for `endpoint` too. Errors from HttpTransport::Create; InvalidArgument
  // for an empty region or a null provider.
  static absl::StatusOr<std::unique_ptr<AwsJsonClient>> Create(
      EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials,
      AwsJsonClientOptions options, HttpTransportOptions transport_options = {});

  // Create() for `service` in `region` with default limits: what each service client
  // (KmsClient, SecretsClient) builds itself on.
  static absl::StatusOr<std::unique_ptr<AwsJsonClient>> CreateForService(
      AwsService service, EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials,
      std::string region, RetryPolicy retry, RetryEnvironment environment,
      HttpTransportOptions transport_options);

  // Calls `operation` (e.g. "Decrypt") with `request` (a JSON object) and returns the reply
  // object. InvalidArgument when `request` cannot be serialised (e.g. invalid UTF-8 in a string).
  absl::StatusOr<nlohmann::json> Call(std::string_view operation, const nlohmann::json& request);

  const AwsJsonClientOptions& options() const { return options_; }
  HttpTransport& transport() { return *transport_; }

 private:
  std::unique_ptr<HttpTransport> transport_;
  std::shared_ptr<CredentialsProvider> credentials_;
  AwsJsonClientOptions options_;
};

// The result of a 2xx reply whose body is `body`: the JSON object; {} for an empty body or
// "null". Internal naming `what` ("kms.Decrypt"), the HTTP status and the size (never the bytes)
// when the body is not a JSON object of at most `max_bytes` (src/common/json.h limits).
absl::StatusOr<nlohmann::json> ParseJsonReplyBody(std::string_view what, int http_status,
                                                  std::string_view body, size_t max_bytes);

}  // namespace lockout::awsclient
