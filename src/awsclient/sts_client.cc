#include "src/awsclient/sts_client.h"

#include <cctype>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/aws/sigv4.h"
#include "src/awsclient/signed_attempt.h"
#include "src/awsclient/xml_reply.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";
constexpr std::string_view kStsVersion = "2011-06-15";

absl::Status Malformed(std::string_view what, std::string_view why) {
  return absl::InternalError(absl::StrCat(Absl(what), ": malformed reply: ", Absl(why)));
}

// The text of a required element under `parent`.
absl::StatusOr<const std::string*> Text(const XmlElement* parent, std::string_view name,
                                        std::string_view what) {
  const XmlElement* e = parent == nullptr ? nullptr : parent->Child(name);
  if (e == nullptr || e->text.empty() || !e->children.empty()) {
    return Malformed(what, absl::StrCat("element ", Absl(name), " is missing or not text"));
  }
  return &e->text;
}

void AddParam(std::string& form, std::string_view key, std::string_view value) {
  absl::StrAppend(&form, form.empty() ? "" : "&", aws::UriEncode(key, false), "=",
                  aws::UriEncode(value, false));
}

}  // namespace

AwsCallError ParseQueryErrorResponse(int http_status, std::string_view body) {
  AwsCallError error;
  error.http_status = http_status;
  absl::StatusOr<XmlElement> root = ParseXml(body);
  if (root.ok()) {
    const XmlElement* e = root->name == "ErrorResponse" ? root->Child("Error") : nullptr;
    if (root->name == "Error") e = &*root;  // some services answer <Error> alone
    if (e != nullptr) {
      if (const XmlElement* code = e->Child("Code"); code != nullptr) {
        for (char c : code->text) {
          if (error.type.size() < 128 &&
              (std::isalnum(static_cast<unsigned char>(c)) || c == '.')) {
            error.type.push_back(c);
          }
        }
      }
      if (const XmlElement* message = e->Child("Message"); message != nullptr) {
        for (char c : message->text) {
          if (error.message.size() >= kMaxAwsErrorMessage) break;
          error.message.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
        }
      }
    }
  }
  if (error.type.empty()) error.type = absl::StrCat("HttpStatus", http_status);
  return error;
}

absl::StatusOr<AssumeRoleResult> ParseAssumeRoleResponse(std::string_view body) {
  constexpr std::string_view what = "sts.AssumeRole";
  absl::StatusOr<XmlElement> root = ParseXml(body);
  if (!root.ok()) return Malformed(what, Std(root.status().message()));
  if (root->name != "AssumeRoleResponse") return Malformed(what, "not an AssumeRoleResponse");
  const XmlElement* result = root->Child("AssumeRoleResult");
  if (result == nullptr) return Malformed(what, "element AssumeRoleResult is missing");
  const XmlElement* credentials = result->Child("Credentials");
  ASSIGN_OR_RETURN(const std::string* key_id, Text(credentials, "AccessKeyId", what));
  ASSIGN_OR_RETURN(const std::string* secret, Text(credentials, "SecretAccessKey", what));
  ASSIGN_OR_RETURN(const std::string* token, Text(credentials, "SessionToken", what));
  ASSIGN_OR_RETURN(const std::string* expiration, Text(credentials, "Expiration", what));
  const XmlElement* user = result->Child("AssumedRoleUser");
  ASSIGN_OR_RETURN(const std::string* arn, Text(user, "Arn", what));
  ASSIGN_OR_RETURN(const std::string* role_id, Text(user, "AssumedRoleId", what));
  absl::StatusOr<absl::Time> expires = ParseRfc3339(*expiration);
  if (!expires.ok()) return Malformed(what, "Expiration is not an RFC 3339 timestamp");
  AssumeRoleResult out;
  out.credentials.access_key_id = *key_id;
  out.credentials.secret_access_key = SecretBytes::CopyFrom(std::string_view(*secret));
  out.credentials.session_token = SecretBytes::CopyFrom(std::string_view(*token));
  out.credentials.expiration = *expires;
  out.assumed_role_arn = *arn;
  out.assumed_role_id = *role_id;
  return out;
}

absl::StatusOr<CallerIdentity> ParseGetCallerIdentityResponse(std::string_view body) {
  constexpr std::string_view what = "sts.GetCallerIdentity";
  absl::StatusOr<XmlElement> root = ParseXml(body);
  if (!root.ok()) return Malformed(what, Std(root.status().message()));
  if (root->name != "GetCallerIdentityResponse") {
    return Malformed(what, "not a GetCallerIdentityResponse");
  }
  const XmlElement* result = root->Child("GetCallerIdentityResult");
  CallerIdentity out;
  ASSIGN_OR_RETURN(const std::string* account, Text(result, "Account", what));
  ASSIGN_OR_RETURN(const std::string* arn, Text(result, "Arn", what));
  ASSIGN_OR_RETURN(const std::string* user_id, Text(result, "UserId", what));
  out.account = *account;
  out.arn = *arn;
  out.user_id = *user_id;
  return out;
}

StsClient::StsClient(std::unique_ptr<HttpTransport> transport,
                     std::shared_ptr<CredentialsProvider> credentials, std::string region,
                     RetryPolicy retry, RetryEnvironment environment)
    : transport_(std::move(transport)),
      credentials_(std::move(credentials)),
      region_(std::move(region)),
      retry_(retry),
      environment_(std::move(environment)) {}

absl::StatusOr<std::unique_ptr<StsClient>> StsClient::Create(
    EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
    RetryPolicy retry, RetryEnvironment environment) {
  if (region.empty()) return absl::InvalidArgumentError("sts client needs a region");
  if (credentials == nullptr) {
    return absl::InvalidArgumentError("sts client needs a credentials provider");
  }
  HttpTransportOptions options;
  options.max_response_body_bytes = kMaxXmlBytes;
  ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport,
                   HttpTransport::Create(std::move(endpoint), options));
  return std::unique_ptr<StsClient>(new StsClient(std::move(transport), std::move(credentials),
                                                  std::move(region), retry,
                                                  std::move(environment)));
}

absl::StatusOr<std::string> StsClient::Call(std::string_view action, std::string form) {
  const std::string what = absl::StrCat("sts.", Absl(action));
  aws::HttpRequest http;
  absl::Cleanup wipe_request = [&http] { http.Wipe(); };
  http.method = "POST";
  http.target = transport_->endpoint().url.path();
  http.body = std::move(form);
  http.SetHeader("Host", transport_->endpoint().url.HostHeader());
  http.SetHeader("Content-Type", kFormContentType);
  const Clock& clock = environment_.clock ? *environment_.clock : Clock::Real();
  std::string body;
  auto attempt = [&](int /*n*/, absl::Duration timeout) -> AttemptResult {
    bool retryable = false;
    absl::StatusOr<HttpResponse> response = SendSignedAttempt(
        *transport_, *credentials_, http, {region_, "sts", clock.Now()}, timeout, what, &retryable);
    if (!response.ok()) return {response.status(), retryable};
    if (response->status < 200 || response->status > 299) {
      AwsCallError error = ParseQueryErrorResponse(response->status, response->body);
      return {MakeAwsCallStatus(what, error), IsRetryableAwsError(error)};
    }
    WipeString(body);
    body = response->body;  // the HttpResponse wipes its own copy
    return {absl::OkStatus(), false};
  };
  absl::Status status = RunWithRetries(retry_, environment_, attempt);
  if (!status.ok()) {
    WipeString(body);
    return status;
  }
  return body;
}

absl::StatusOr<AssumeRoleResult> StsClient::AssumeRole(const AssumeRoleRequest& request) {
  std::string form;
  AddParam(form, "Action", "AssumeRole");
  AddParam(form, "Version", kStsVersion);
  AddParam(form, "RoleArn", request.role_arn);
  AddParam(form, "RoleSessionName", request.role_session_name);
  if (request.external_id.has_value()) AddParam(form, "ExternalId", *request.external_id);
  if (request.duration_seconds.has_value()) {
    AddParam(form, "DurationSeconds", absl::StrCat(*request.duration_seconds));
  }
  ASSIGN_OR_RETURN(std::string body, Call("AssumeRole", std::move(form)));
  absl::StatusOr<AssumeRoleResult> result = ParseAssumeRoleResponse(body);
  WipeString(body);
  return result;
}

absl::StatusOr<CallerIdentity> StsClient::GetCallerIdentity() {
  std::string form;
  AddParam(form, "Action", "GetCallerIdentity");
  AddParam(form, "Version", kStsVersion);
  ASSIGN_OR_RETURN(std::string body, Call("GetCallerIdentity", std::move(form)));
  return ParseGetCallerIdentityResponse(body);
}

}  // namespace lockout::awsclient
