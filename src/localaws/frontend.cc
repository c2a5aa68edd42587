#include "src/localaws/frontend.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {

Frontend::Frontend(IdentityStore& identity, ImdsService* imds, const Clock& clock)
    : identity_(identity), imds_(imds), clock_(clock) {}

void Frontend::AddService(AwsJsonService* service) {
  services_.push_back(service);
  RebuildVerifier();
}

void Frontend::AddQueryService(AwsQueryService* service) {
  query_services_.push_back(service);
  RebuildVerifier();
}

void Frontend::RebuildVerifier() {
  aws::SigV4VerifierOptions options;
  options.region = identity_.options().region;
  for (auto* s : services_) options.services.emplace_back(s->signing_name());
  for (auto* s : query_services_) options.services.emplace_back(s->signing_name());
  verifier_ = std::make_unique<aws::SigV4Verifier>(
      [this](std::string_view akid) { return identity_.Lookup(akid); }, options, clock_);
}

namespace {

bool IsQueryRequest(const aws::HttpRequest& request) {
  if (request.FindHeader("X-Amz-Target").has_value()) return false;
  std::optional<std::string_view> type = request.FindHeader("Content-Type");
  return type.has_value() &&
         absl::StartsWithIgnoreCase(Absl(*type), "application/x-www-form-urlencoded");
}

// The query protocol's names for the SigV4 verifier's errors (what STS answers).
AwsError QueryAuthError(const AwsError& e) {
  if (e.type == "UnrecognizedClientException") {
    return AwsError{"InvalidClientTokenId",
                    "The security token included in the request is invalid.", 403};
  }
  if (e.type == "InvalidSignatureException") {
    return AwsError{"SignatureDoesNotMatch", e.message, 403};
  }
  if (e.type == "ExpiredTokenException") {
    return AwsError{"ExpiredToken", "The security token included in the request is expired", 400};
  }
  if (e.type == "IncompleteSignatureException")
    return AwsError{"IncompleteSignature", e.message, 400};
  if (e.type == "MissingAuthenticationTokenException") {
    return AwsError{"MissingAuthenticationToken", e.message, 403};
  }
  return e;
}

}  // namespace

std::variant<std::pair<policy::Principal, std::string>, AwsError> Frontend::Authenticate(
    const aws::HttpRequest& request, std::string_view signing_name, const std::string& request_id) {
  aws::VerifyResult verified = verifier_->Verify(request);
  if (!verified.ok()) {
    const aws::AuthError& e = verified.error();
    LogWarn(
        "auth_failed",
        {{"request_id", request_id}, {"type", std::string(e.TypeName())}, {"detail", e.detail}});
    return AwsError{std::string(e.TypeName()), e.message, e.HttpStatus()};
  }
  if (verified.value().scope.service != signing_name) {
    LogWarn("auth_failed",
            {{"request_id", request_id}, {"detail", "credential scope names another service"}});
    return AwsError{
        "InvalidSignatureException",
        "Credential should be scoped to correct service: '" + std::string(signing_name) + "'.",
        400};
  }
  std::optional<policy::Principal> principal =
      identity_.PrincipalForKey(verified.value().access_key_id);
  if (!principal) {
    return AwsError{"UnrecognizedClientException",
                    "The security token included in the request is invalid.", 400};
  }
  return std::make_pair(*std::move(principal), verified.value().access_key_id);
}

QueryResult Frontend::DispatchQuery(const aws::HttpRequest& request, AwsQueryService** service_out,
                                    std::string* target_out, std::string* principal_out,
                                    const std::string& request_id) {
  if (request.method != "POST") {
    return AwsError{"InvalidAction", "Query-protocol calls must be POST", 400};
  }
  // The service is the one the credential scope names (".../REGION/SERVICE/aws4_request").
  std::optional<std::string_view> authorization = request.FindHeader("Authorization");
  AwsQueryService* service = nullptr;
  if (authorization.has_value()) {
    for (auto* s : query_services_) {
      if (absl::StrContains(Absl(*authorization),
                            absl::StrCat("/", Absl(s->signing_name()), "/aws4_request"))) {
        service = s;
      }
    }
  }
  if (service == nullptr) {
    if (!query_services_.empty()) *service_out = query_services_.front();
    return AwsError{"InvalidAction", "No query-protocol service for this request", 400};
  }
  *service_out = service;
  auto auth = Authenticate(request, service->signing_name(), request_id);
  if (std::holds_alternative<AwsError>(auth)) return QueryAuthError(std::get<AwsError>(auth));
  auto& [principal, access_key_id] = std::get<0>(auth);
  *principal_out = principal.arn;
  absl::StatusOr<QueryParams> params = ParseQueryForm(request.body);
  if (!params.ok()) {
    return AwsError{"MalformedQueryString", std::string(params.status().message()), 400};
  }
  auto action = params->find("Action");
  if (action == params->end() || action->second.empty()) {
    return AwsError{"MissingAction", "Missing Action", 400};
  }
  *target_out = absl::StrCat(Absl(service->signing_name()), ".", action->second.substr(0, 64));
  CallContext context{std::move(principal), std::move(access_key_id), request_id};
  return service->Handle(action->second, *params, context);
}

http::HttpResponse Frontend::ServerErrorResponse(http::HttpServerError error) {
  switch (error) {
    case http::HttpServerError::kBodyTooLarge:
      return ToHttpResponse(AwsError{"RequestEntityTooLargeException",
                                     "Request body is larger than the service accepts", 413});
    case http::HttpServerError::kHeaderTooLarge:
      return ToHttpResponse(
          AwsError{"RequestHeaderFieldsTooLarge", "Request headers are too large", 431});
    case http::HttpServerError::kMalformed:
      break;
  }
  return ToHttpResponse(AwsError{"SerializationException", "Malformed HTTP request", 400});
}

http::HttpResponse Frontend::Handle(const aws::HttpRequest& request) {
  if (imds_ != nullptr && ImdsService::Handles(request)) {
    http::HttpResponse r = imds_->Handle(request);
    LogInfo(
        "imds",
        {{"method", request.method}, {"path", std::string(request.Path())}, {"status", r.status}});
    return r;
  }
  const absl::Time start = clock_.Now();
  std::string request_id = crypto::RandomUuid();
  std::string target, principal;
  http::HttpResponse response;
  std::optional<std::string> error_type;
  if (IsQueryRequest(request) && !query_services_.empty()) {
    AwsQueryService* service = nullptr;
    QueryResult result = DispatchQuery(request, &service, &target, &principal, request_id);
    if (const AwsError* e = std::get_if<AwsError>(&result)) error_type = e->type;
    response = ToQueryHttpResponse(
        result, service != nullptr ? service->xml_namespace() : std::string_view(), request_id);
  } else {
    AwsResult result = Dispatch(request, &target, &principal, request_id);
    if (!result.ok()) error_type = result.error().type;
    response = ToHttpResponse(result);
  }
  response.headers.push_back({"x-amzn-RequestId", request_id});
  nlohmann::json line = {{"request_id", request_id},
                         {"target", target},
                         {"principal", principal},
                         {"status", response.status},
                         {"request_bytes", request.body.size()},
                         {"latency_us", absl::ToInt64Microseconds(clock_.Now() - start)}};
  if (error_type.has_value()) line["error"] = *error_type;
  LogInfo("request", line);
  return response;
}

AwsResult Frontend::Dispatch(const aws::HttpRequest& request, std::string* target_out,
                             std::string* principal_out, const std::string& request_id) {
  std::optional<std::string_view> target = request.FindHeader("X-Amz-Target");
  if (!target) {
    return AwsError{"UnknownOperationException", "Missing X-Amz-Target header", 400};
  }
  *target_out = std::string(target->substr(0, 128));
  size_t dot = target->find('.');
  AwsJsonService* service = nullptr;
  if (dot != std::string_view::npos) {
    for (auto* s : services_) {
      if (target->substr(0, dot) == s->target_prefix()) service = s;
    }
  }
  if (service == nullptr) {
    return AwsError{"UnknownOperationException", "Unknown X-Amz-Target", 400};
  }
  if (request.method != "POST") {
    return AwsError{"UnknownOperationException", "AWS JSON 1.1 calls must be POST", 400};
  }
  auto auth = Authenticate(request, service->signing_name(), request_id);
  if (std::holds_alternative<AwsError>(auth)) return std::get<AwsError>(auth);
  auto& [principal, access_key_id] = std::get<0>(auth);
  *principal_out = principal.arn;
  Json body = Json::object();  // an empty body is an empty request object
  if (!request.body.empty()) {
    absl::StatusOr<Json> parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return AwsError{"SerializationException", "Request body is not a JSON object", 400};
    }
    body = *std::move(parsed);
  }
  CallContext context{std::move(principal), std::move(access_key_id), request_id};
  return service->Handle(target->substr(dot + 1), body, context);
}

}  // namespace lockout::localaws
