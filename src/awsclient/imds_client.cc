#include "src/awsclient/imds_client.h"

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/aws_json_client.h"
#include "src/common/clock.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";
constexpr std::string_view kTokenHeader = "X-aws-ec2-metadata-token";
constexpr std::string_view kTokenTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
// Refresh the token this long before IMDS would let it expire.
constexpr absl::Duration kTokenRefreshMargin = absl::Seconds(60);

// IAM role names: 1..64 of [A-Za-z0-9+=,.@_-] (IAM CreateRole); we allow up to 128.
bool IsRoleName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("+=,.@_-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Metadata paths we build: letters, digits and "/-_.", no "..".
bool IsMetadataPath(std::string_view path) {
  if (path.empty() || path.size() > 256 || path.find("..") != std::string_view::npos) return false;
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("/-_.+=,@").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

absl::Status Malformed(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("IMDS credentials document is malformed: ", Absl(why)));
}

// A required string field of the credentials document.
absl::StatusOr<const std::string*> Field(const nlohmann::json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return Malformed(absl::StrCat("field ", name, " is missing or not a non-empty string"));
  }
  return &it->get_ref<const std::string&>();
}

bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

absl::StatusOr<RoleCredentials> ParseRoleCredentials(std::string_view body) {
  absl::StatusOr<nlohmann::json> parsed = ParseJson(body, 64 << 10, 4);
  if (!parsed.ok()) return Malformed("not JSON");
  nlohmann::json doc = *std::move(parsed);
  absl::Cleanup wipe = [&doc] { WipeJsonStrings(doc); };
  if (!doc.is_object()) return Malformed("not a JSON object");
  auto code = doc.find("Code");
  if (code != doc.end() && (!code->is_string() || code->get<std::string>() != "Success")) {
    return absl::UnavailableError("IMDS credentials document: Code is not \"Success\"");
  }
  RoleCredentials out;
  ASSIGN_OR_RETURN(const std::string* key_id, Field(doc, "AccessKeyId"));
  ASSIGN_OR_RETURN(const std::string* secret, Field(doc, "SecretAccessKey"));
  ASSIGN_OR_RETURN(const std::string* token, Field(doc, "Token"));
  ASSIGN_OR_RETURN(const std::string* expiration, Field(doc, "Expiration"));
  absl::StatusOr<absl::Time> expires = ParseRfc3339(*expiration);
  if (!expires.ok()) return Malformed("field Expiration is not an RFC 3339 timestamp");
  out.access_key_id = *key_id;
  out.secret_access_key = SecretBytes::CopyFrom(std::string_view(*secret));
  out.session_token = SecretBytes::CopyFrom(std::string_view(*token));
  out.expiration = *expires;
  return out;
}

absl::StatusOr<SecretBytes> ParseImdsToken(std::string_view body) {
  const std::string_view token = Trim(body);
  if (token.empty() || token.size() > 4096) {
    return absl::UnavailableError(
        absl::StrCat("IMDS returned an unusable token (", token.size(), " bytes)"));
  }
  return SecretBytes::CopyFrom(token);
}

absl::StatusOr<std::string> ParseRoleNameListing(std::string_view body) {
  std::string_view first = Trim(body);
  first = first.substr(0, first.find('\n'));
  first = Trim(first);
  if (first.empty()) return absl::NotFoundError("IMDS lists no instance role");
  if (!IsRoleName(first)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IMDS returned an invalid role name (", first.size(), " bytes)"));
  }
  return std::string(first);
}

ImdsClient::ImdsClient(std::unique_ptr<HttpTransport> transport, ImdsOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ImdsClient>> ImdsClient::Create(EndpointConfig endpoint,
                                                               ImdsOptions options) {
  HttpTransportOptions transport_options;
  transport_options.max_response_body_bytes = options.max_response_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> transport,
                   HttpTransport::Create(std::move(endpoint), std::move(transport_options)));
  return std::make_unique<ImdsClient>(std::move(transport), std::move(options));
}

int ImdsClient::tokens_fetched() const {
  absl::MutexLock lock(&mu_);
  return tokens_fetched_;
}

absl::Status ImdsClient::FetchToken(absl::Duration timeout) {
  aws::HttpRequest request;
  request.method = "PUT";
  request.target = std::string(kTokenPath);
  request.SetHeader(kTokenTtlHeader, absl::StrCat(absl::ToInt64Seconds(options_.token_ttl)));
  const Clock& clock = options_.environment.clock ? *options_.environment.clock : Clock::Real();
  const absl::Time requested_at = clock.Now();
  ASSIGN_OR_RETURN(HttpResponse response, transport_->Send(request, timeout));
  if (response.status != 200) {
    const std::string why = absl::StrCat("IMDS token request (PUT ", Absl(kTokenPath),
                                         ") answered HTTP ", response.status);
    if (response.status == 403) return absl::PermissionDeniedError(why);
    if (response.status == 429 || response.status >= 500) return absl::UnavailableError(why);
    return absl::FailedPreconditionError(why);
  }
  ASSIGN_OR_RETURN(SecretBytes token, ParseImdsToken(response.body));
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
  token_refresh_at_ = requested_at + options_.token_ttl - kTokenRefreshMargin;
  ++tokens_fetched_;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImdsClient::Get(std::string_view path, bool secret_body) {
  const Clock& clock = options_.environment.clock ? *options_.environment.clock : Clock::Real();
  std::string body;
  auto attempt = [&](int /*n*/, absl::Duration timeout) -> AttemptResult {
    bool need_token;
    {
      absl::MutexLock lock(&mu_);
      need_token = token_.empty() || clock.Now() >= token_refresh_at_;
    }
    if (need_token) {
      absl::Status s = FetchToken(timeout);
      if (!s.ok()) return {s, Retryable(s)};
    }
    aws::HttpRequest request;
    request.method = "GET";
    request.target = std::string(path);
    {
      absl::MutexLock lock(&mu_);
      request.SetHeader(kTokenHeader, token_.RevealAsString());
    }
    absl::Cleanup wipe_token = [&request] { request.Wipe(); };
    absl::StatusOr<HttpResponse> response = transport_->Send(request, timeout);
    if (!response.ok()) {
      return {absl::Status(response.status().code(),
                           absl::StrCat("IMDS ", Absl(path), ": ", response.status().message())),
              Retryable(response.status())};
    }
    const int status = response->status;
    const std::string why = absl::StrCat("IMDS GET ", Absl(path), " answered HTTP ", status);
    if (status == 200) {
      body.assign(response->body);
      return {absl::OkStatus(), false};
    }
    if (status == 401) {
      // The token expired or IMDS restarted: get a new one and try again.
      absl::MutexLock lock(&mu_);
      token_.Clear();
      return {absl::UnauthenticatedError(why), true};
    }
    if (status == 404) return {absl::NotFoundError(why), false};
    if (status == 403) return {absl::PermissionDeniedError(why), false};
    if (status == 429 || status >= 500) return {absl::UnavailableError(why), true};
    return {absl::FailedPreconditionError(why), false};
  };
  absl::Status status = RunWithRetries(options_.retry, options_.environment, attempt);
  if (!status.ok()) {
    if (secret_body) WipeString(body);
    return status;
  }
  return body;
}

absl::StatusOr<std::string> ImdsClient::GetMetadata(std::string_view path) {
  if (!IsMetadataPath(path)) {
    return absl::InvalidArgumentError(absl::StrCat("not a metadata path: \"", Absl(path), "\""));
  }
  ASSIGN_OR_RETURN(std::string body,
                   Get(absl::StrCat("/latest/meta-data/", Absl(path)), /*secret_body=*/false));
  return std::string(Trim(body));
}

absl::StatusOr<std::string> ImdsClient::GetRoleName() {
  ASSIGN_OR_RETURN(std::string listing, Get(kCredentialsPath, /*secret_body=*/false));
  return ParseRoleNameListing(listing);
}

absl::StatusOr<RoleCredentials> ImdsClient::GetRoleCredentials(std::string_view role_name) {
  if (!IsRoleName(role_name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IAM role name: \"", Absl(role_name), "\""));
  }
  ASSIGN_OR_RETURN(std::string body, Get(absl::StrCat(Absl(kCredentialsPath), Absl(role_name)),
                                         /*secret_body=*/true));
  absl::Cleanup wipe = [&body] { WipeString(body); };
  return ParseRoleCredentials(body);
}

absl::StatusOr<RoleCredentials> ImdsClient::GetCredentials() {
  ASSIGN_OR_RETURN(std::string role, GetRoleName());
  return GetRoleCredentials(role);
}

ImdsCredentialsProvider::ImdsCredentialsProvider(std::shared_ptr<ImdsClient> client,
                                                 absl::Duration refresh_margin, const Clock* clock)
    : CachingCredentialsProvider([client] { return client->GetCredentials(); }, refresh_margin,
                                 clock) {}

}  // namespace lockout::awsclient
