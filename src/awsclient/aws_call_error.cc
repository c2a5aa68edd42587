#include "src/awsclient/aws_call_error.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/json.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

constexpr std::string_view kPayloadUrl = "type.lockout.dev/awsclient.AwsCallError";
constexpr size_t kMaxTypeLength = 128;
constexpr size_t kMaxErrorBody = 64 << 10;

// Throttling error codes the AWS SDKs retry (botocore's retry handler and the SDKs' standard
// retry mode list these).
constexpr std::string_view kThrottlingTypes[] = {"ThrottlingException",
                                                 "Throttling",
                                                 "ThrottledException",
                                                 "RequestThrottledException",
                                                 "TooManyRequestsException",
                                                 "ProvisionedThroughputExceededException",
                                                 "TransactionInProgressException",
                                                 "RequestLimitExceeded",
                                                 "BandwidthLimitExceeded",
                                                 "LimitExceededException",
                                                 "RequestThrottled",
                                                 "SlowDown",
                                                 "PriorRequestNotComplete",
                                                 "EC2ThrottledException"};

// Keeps printable ASCII, replaces anything else with '?', and bounds the length.
std::string Sanitize(std::string_view text, size_t max_len) {
  std::string out;
  out.reserve(std::min(text.size(), max_len));
  for (char c : text) {
    if (out.size() >= max_len) {
      out.append("...");
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  return out;
}

// "com.amazonaws.kms#AccessDeniedException" -> "AccessDeniedException";
// "AccessDeniedException:http://internal.amazon.com/coral/..." -> "AccessDeniedException".
std::string CleanType(std::string_view type) {
  const size_t hash = type.rfind('#');
  if (hash != std::string_view::npos) type = type.substr(hash + 1);
  const size_t colon = type.find(':');
  if (colon != std::string_view::npos) type = type.substr(0, colon);
  std::string out;
  for (char c : type) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok || out.size() >= kMaxTypeLength) return "";
    out.push_back(c);
  }
  return out;
}

bool IsOneOf(std::string_view type, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (type == n) return true;
  }
  return false;
}

}  // namespace

AwsCallError ParseAwsErrorResponse(int http_status, const std::vector<aws::HttpHeader>& headers,
                                   std::string_view body) {
  AwsCallError error;
  error.http_status = http_status;
  if (!body.empty() && body.size() <= kMaxErrorBody) {
    absl::StatusOr<nlohmann::json> json = ParseJson(body, kMaxErrorBody, 8);
    if (json.ok() && json->is_object()) {
      for (const char* field : {"__type", "code", "Code"}) {
        auto it = json->find(field);
        if (it != json->end() && it->is_string()) {
          error.type = CleanType(it->get_ref<const std::string&>());
          if (!error.type.empty()) break;
        }
      }
      for (const char* field : {"message", "Message"}) {
        auto it = json->find(field);
        if (it != json->end() && it->is_string()) {
          error.message = Sanitize(it->get_ref<const std::string&>(), kMaxAwsErrorMessage);
          break;
        }
      }
    }
  }
  if (error.type.empty()) {
    for (const aws::HttpHeader& h : headers) {
      if (aws::HeaderNameEquals(h.name, "X-Amzn-ErrorType")) {
        error.type = CleanType(h.value);
        break;
      }
    }
  }
  if (error.type.empty()) error.type = absl::StrCat("HttpStatus", http_status);
  return error;
}

absl::StatusCode StatusCodeForAwsError(const AwsCallError& e) {
  const std::string_view t = e.type;
  if (IsOneOf(t, {"AccessDeniedException", "AccessDenied", "AccessDeniedFault"})) {
    return absl::StatusCode::kPermissionDenied;
  }
  if (IsOneOf(t, {"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
                  "IncompleteSignatureException", "MissingAuthenticationToken",
                  "MissingAuthenticationTokenException", "ExpiredTokenException", "ExpiredToken",
                  "InvalidClientTokenId", "SignatureDoesNotMatch"})) {
    return absl::StatusCode::kUnauthenticated;
  }
  if (IsOneOf(t, {"NotFoundException", "ResourceNotFoundException"})) {
    return absl::StatusCode::kNotFound;
  }
  if (IsOneOf(t, {"AlreadyExistsException", "ResourceExistsException"})) {
    return absl::StatusCode::kAlreadyExists;
  }
  if (IsRetryableAwsError(e)) return absl::StatusCode::kUnavailable;
  if (IsOneOf(t, {"ValidationException", "InvalidParameterException", "InvalidRequestException",
                  "MalformedPolicyDocumentException", "InvalidCiphertextException",
                  "InvalidKeyUsageException", "IncorrectKeyException", "InvalidAliasNameException",
                  "InvalidArnException", "InvalidGrantTokenException", "SerializationException",
                  "UnknownOperationException", "InvalidParameterValue", "InvalidAction",
                  "ValidationError", "MalformedPolicyDocument", "PackedPolicyTooLarge"})) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (IsOneOf(t, {"DisabledException", "KMSInvalidStateException", "KeyUnavailableException",
                  "DecryptionFailure", "EncryptionFailure"})) {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (e.http_status >= 500) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kFailedPrecondition;
}

bool IsRetryableAwsError(const AwsCallError& e) {
  for (std::string_view t : kThrottlingTypes) {
    if (e.type == t) return true;
  }
  return e.http_status == 429 || (e.http_status >= 500 && e.http_status <= 599);
}

absl::Status MakeAwsCallStatus(std::string_view what, const AwsCallError& error) {
  std::string message = absl::StrCat(Absl(what), ": ", error.type);
  if (!error.message.empty()) absl::StrAppend(&message, ": ", error.message);
  absl::StrAppend(&message, " (HTTP ", error.http_status, ")");
  absl::Status status(StatusCodeForAwsError(error), message);
  nlohmann::json payload = {
      {"type", error.type}, {"message", error.message}, {"http_status", error.http_status}};
  status.SetPayload(Absl(kPayloadUrl), absl::Cord(payload.dump()));
  return status;
}

std::optional<AwsCallError> GetAwsCallError(const absl::Status& status) {
  auto payload = status.GetPayload(Absl(kPayloadUrl));  // absl::optional<absl::Cord>
  if (!payload.has_value()) return std::nullopt;
  absl::StatusOr<nlohmann::json> json = ParseJson(std::string(*payload));
  if (!json.ok() || !json->is_object()) return std::nullopt;
  AwsCallError error;
  try {
    error.type = json->at("type").get<std::string>();
    error.message = json->at("message").get<std::string>();
    error.http_status = json->at("http_status").get<int>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return error;
}

bool IsAwsErrorType(const absl::Status& status, std::string_view type) {
  std::optional<AwsCallError> error = GetAwsCallError(status);
  return error.has_value() && error->type == type;
}

}  // namespace lockout::awsclient
