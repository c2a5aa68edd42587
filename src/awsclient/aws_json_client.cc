#include "src/awsclient/aws_json_client.h"

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/signed_attempt.h"
#include "src/common/json.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonReplyBody(std::string_view what, int http_status,
                                                  std::string_view body, size_t max_bytes) {
  if (body.empty()) return nlohmann::json::object();
  absl::StatusOr<nlohmann::json> json = ParseJson(body, max_bytes);
  // Operations without output may answer "null" (moto does); botocore reads it as {}.
  if (json.ok() && json->is_null()) return nlohmann::json::object();
  if (!json.ok() || !json->is_object()) {
    return absl::InternalError(absl::StrCat(Absl(what), ": HTTP ", http_status,
                                            " reply is not a JSON object (", body.size(),
                                            " bytes)"));
  }
  return json;
}

AwsJsonClient::AwsJsonClient(std::unique_ptr<HttpTransport> transport,
                             std::shared_ptr<CredentialsProvider> credentials,
                             AwsJsonClientOptions options)
    : transport_(std::move(transport)),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<AwsJsonClient>> AwsJsonClient::CreateForService(
    AwsService service, EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials,
    std::string region, RetryPolicy retry, RetryEnvironment environment,
    HttpTransportOptions transport_options) {
  AwsJsonClientOptions options;
  options.service = service;
  options.region = std::move(region);
  options.retry = retry;
  options.environment = std::move(environment);
  return Create(std::move(endpoint), std::move(credentials), std::move(options),
                std::move(transport_options));
}

absl::StatusOr<std::unique_ptr<AwsJsonClient>> AwsJsonClient::Create(
    EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials,
    AwsJsonClientOptions options, HttpTransportOptions transport_options) {
  if (options.region.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(options.service.name), " client needs a region"));
  }
  if (credentials == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(options.service.name), " client needs a credentials provider"));
  }
  transport_options.max_response_body_bytes =
      std::max(transport_options.max_response_body_bytes, options.max_response_bytes);
  absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
      HttpTransport::Create(std::move(endpoint), std::move(transport_options));
  if (!transport.ok()) return transport.status();
  return std::make_unique<AwsJsonClient>(*std::move(transport), std::move(credentials),
                                         std::move(options));
}

absl::StatusOr<nlohmann::json> AwsJsonClient::Call(std::string_view operation,
                                                   const nlohmann::json& request) {
  const AwsService& service = options_.service;
  const std::string what = absl::StrCat(Absl(service.name), ".", Absl(operation));

  aws::HttpRequest http;
  // The body may carry a plaintext (Encrypt) and the headers the session token.
  absl::Cleanup wipe_request = [&http] { http.Wipe(); };
  try {
    http.body = request.dump();
  } catch (const nlohmann::json::exception&) {
    // nlohmann refuses strings that are not UTF-8 (error 316); its message quotes no bytes, but
    // we do not forward it anyway.
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": request cannot be serialised as JSON (a string is not UTF-8)"));
  }
  http.method = "POST";
  http.target = transport_->endpoint().url.path();
  http.SetHeader("Host", transport_->endpoint().url.HostHeader());
  http.SetHeader("Content-Type", kJsonContentType);
  http.SetHeader("X-Amz-Target", absl::StrCat(Absl(service.target_prefix), ".", Absl(operation)));

  const Clock& clock = options_.environment.clock ? *options_.environment.clock : Clock::Real();
  nlohmann::json result;
  auto attempt = [&](int /*n*/, absl::Duration timeout) -> AttemptResult {
    bool retryable = false;
    absl::StatusOr<HttpResponse> response = SendSignedAttempt(
        *transport_, *credentials_, http, {options_.region, service.signing_name, clock.Now()},
        timeout, what, &retryable);
    if (!response.ok()) return {response.status(), retryable};
    if (response->status < 200 || response->status > 299) {
      AwsCallError error =
          ParseAwsErrorResponse(response->status, response->headers, response->body);
      return {MakeAwsCallStatus(what, error), IsRetryableAwsError(error)};
    }
    absl::StatusOr<nlohmann::json> json =
        ParseJsonReplyBody(what, response->status, response->body, options_.max_response_bytes);
    if (!json.ok()) return {json.status(), false};
    result = *std::move(json);
    return {absl::OkStatus(), false};
  };
  absl::Status status = RunWithRetries(options_.retry, options_.environment, attempt);
  if (!status.ok()) return status;
  return result;
}

}  // namespace lockout::awsclient
