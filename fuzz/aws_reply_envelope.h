#pragma once

// The HTTP layer of an AWS JSON 1.1 reply, for the KMS and Secrets Manager reply fuzz targets:
// what AwsJsonClient::Call does with a response before the typed parser sees it.
//
// A status selector byte picks the HTTP status: below 0xc0 it is 200; otherwise one of 16
// statuses (2xx and errors). A 2xx body goes through ParseJsonReplyBody; an error body (with an
// X-Amzn-ErrorType header made of the body's first bytes when bit 4 of the selector is set)
// through ParseAwsErrorResponse and MakeAwsCallStatus. Checked (abort on violation): the error
// is well-formed (type printable and bounded, message sanitised, the status carries the same
// AwsCallError back); a failed 2xx body is Internal with a bounded message; a parsed body is an
// object.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_checks.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/aws_json_client.h"

namespace lockout::fuzz {

inline constexpr size_t kMaxReplyBytes = 1 << 20;  // AwsJsonClientOptions' default

// The JSON object a 2xx reply carries, or nullopt when the call failed (the failure checked).
inline std::optional<nlohmann::json> AwsReplyObject(std::string_view what, uint8_t selector,
                                                    std::string_view body) {
  static constexpr int kStatuses[16] = {200, 201, 204, 299, 400, 401, 403, 404,
                                        409, 413, 429, 500, 502, 503, 504, 100};
  const int http_status = selector < 0xc0 ? 200 : kStatuses[selector & 0x0f];
  if (http_status >= 200 && http_status <= 299) {
    absl::StatusOr<nlohmann::json> reply =
        awsclient::ParseJsonReplyBody(what, http_status, body, kMaxReplyBytes);
    if (!reply.ok()) {
      CheckErrorMessage(reply.status(), 200);
      Check(reply.status().code() == absl::StatusCode::kInternal, "bad body is not Internal");
      return std::nullopt;
    }
    Check(reply->is_object(), "a reply body that is not an object was accepted");
    Check(body.find('\0') == std::string_view::npos, "a reply body with a NUL byte was accepted");
    return *std::move(reply);
  }
  std::vector<aws::HttpHeader> headers;
  if ((selector & 0x10) != 0) {
    headers.push_back({"X-Amzn-ErrorType", std::string(body.substr(0, 64))});
  }
  const awsclient::AwsCallError error =
      awsclient::ParseAwsErrorResponse(http_status, headers, body);
  Check(!error.type.empty() && error.type.size() <= 256 && IsPrintableAscii(error.type),
        "AWS error type empty, too long or unprintable");
  // Sanitize keeps kMaxAwsErrorMessage characters and marks a cut with "..."
  // (aws_call_error_test: at most kMaxAwsErrorMessage + 3).
  Check(
      error.message.size() <= awsclient::kMaxAwsErrorMessage + 3 && IsPrintableAscii(error.message),
      "AWS error message not sanitised");
  Check(error.http_status == http_status, "AWS error lost the HTTP status");
  const absl::Status status = awsclient::MakeAwsCallStatus(what, error);
  CheckErrorMessage(status, awsclient::kMaxAwsErrorMessage + 512);
  std::optional<awsclient::AwsCallError> carried = awsclient::GetAwsCallError(status);
  Check(carried.has_value() && carried->type == error.type && carried->message == error.message &&
            carried->http_status == http_status,
        "the status does not carry its AwsCallError");
  Check(awsclient::IsAwsErrorType(status, error.type), "IsAwsErrorType misses its own type");
  (void)awsclient::IsRetryableAwsError(error);
  return std::nullopt;
}

// Text of `j` (a re-serialised result), parsed back the way a reply body is.
inline nlohmann::json Reparse(std::string_view what, const nlohmann::json& j) {
  absl::StatusOr<nlohmann::json> again =
      awsclient::ParseJsonReplyBody(what, 200, j.dump(), 4 * kMaxReplyBytes);
  Check(again.ok(), "a re-serialised reply does not parse");
  return *std::move(again);
}

}  // namespace lockout::fuzz
