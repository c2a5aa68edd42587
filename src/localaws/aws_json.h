#pragma once

// The AWS JSON 1.1 protocol as local-aws serves it: results, errors and request-field access.
//
// A service operation returns an AwsResult: either the response object or an AwsError, which is
// sent as HTTP `status` with body {"__type": type, "message": message} — the shape the AWS CLI and
// boto3 turn into ClientError codes. Messages are for the network peer: never key material,
// plaintexts or credentials.
//
// Field helpers validate the request body the way AWS does (ValidationException for missing or
// mistyped fields) so that each operation is a straight line of Get...() calls.
//
// Thread-safety: plain values and pure functions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/common/status_macros.h"
#include "src/http/http_server.h"

namespace lockout::localaws {

struct AwsError {
  std::string type;  // e.g. "AccessDeniedException"
  std::string message;
  int status = 400;
};

using Json = nlohmann::json;

// Either the response object or an error.
class AwsResult final {
 public:
  AwsResult(Json value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  AwsResult(AwsError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<Json>(v_); }
  const Json& value() const { return std::get<Json>(v_); }
  Json& value() { return std::get<Json>(v_); }
  const AwsError& error() const { return std::get<AwsError>(v_); }

 private:
  std::variant<Json, AwsError> v_;
};

http::HttpResponse ToHttpResponse(const AwsResult& result);

// Common errors (AWS's __type names).
AwsError ValidationError(std::string message);  // ValidationException
AwsError AccessDenied(std::string message);     // AccessDeniedException
AwsError InternalFailure(std::string message);  // InternalFailure / 500

// Request field access. Each returns the value or the AwsError to send back.
template <typename T>
using FieldOr = std::variant<T, AwsError>;

template <typename T>
bool IsError(const FieldOr<T>& f) {
  return std::holds_alternative<AwsError>(f);
}

// A required string field, 1..max_len characters.
FieldOr<std::string> GetString(const Json& body, std::string_view field, size_t max_len = 2048);
// An optional string field (nullopt when absent or null).
FieldOr<std::optional<std::string>> GetOptionalString(const Json& body, std::string_view field,
                                                      size_t max_len = 2048);
// A required base64 blob (AWS JSON encodes blobs as base64 strings), 1..max_bytes decoded bytes.
FieldOr<Bytes> GetBlob(const Json& body, std::string_view field, size_t max_bytes);
FieldOr<std::optional<Bytes>> GetOptionalBlob(const Json& body, std::string_view field,
                                              size_t max_bytes);
FieldOr<std::optional<int64_t>> GetOptionalInt(const Json& body, std::string_view field,
                                               int64_t min, int64_t max);
FieldOr<std::optional<bool>> GetOptionalBool(const Json& body, std::string_view field);
// An optional object whose values are all strings (EncryptionContext, Tags as map).
FieldOr<std::optional<std::map<std::string, std::string>>> GetOptionalStringMap(
    const Json& body, std::string_view field);

// Unwraps a FieldOr into `var` or returns its error from the enclosing function (which must
// return AwsResult).
#define AWS_ASSIGN_OR_RETURN(var, expr)                                           \
  auto LOCKOUT_STATUS_CONCAT_(aws_field_, __LINE__) = (expr);                     \
  if (::lockout::localaws::IsError(LOCKOUT_STATUS_CONCAT_(aws_field_, __LINE__))) \
    return std::get<::lockout::localaws::AwsError>(                               \
        std::move(LOCKOUT_STATUS_CONCAT_(aws_field_, __LINE__)));                 \
  var = std::get<0>(std::move(LOCKOUT_STATUS_CONCAT_(aws_field_, __LINE__)))

}  // namespace lockout::localaws
