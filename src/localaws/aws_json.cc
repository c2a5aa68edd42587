#include "src/localaws/aws_json.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"

namespace lockout::localaws {

http::HttpResponse ToHttpResponse(const AwsResult& result) {
  if (result.ok()) {
    return http::HttpResponse::Json(
        200, result.value().dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  const AwsError& e = result.error();
  Json body = {{"__type", e.type}, {"message", e.message}};
  http::HttpResponse r =
      http::HttpResponse::Json(e.status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
  r.headers.push_back({"x-amzn-ErrorType", e.type});
  return r;
}

AwsError ValidationError(std::string message) {
  return AwsError{"ValidationException", std::move(message), 400};
}
AwsError AccessDenied(std::string message) {
  return AwsError{"AccessDeniedException", std::move(message), 400};
}
AwsError InternalFailure(std::string message) {
  return AwsError{"InternalFailure", std::move(message), 500};
}

namespace {

AwsError FieldTypeError(std::string_view field, std::string_view want) {
  return AwsError{"SerializationException",
                  absl::StrCat("Field '", Absl(field), "' must be ", Absl(want)), 400};
}

const Json* Find(const Json& body, std::string_view field) {
  if (!body.is_object()) return nullptr;
  auto it = body.find(std::string(field));
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

AwsError Missing(std::string_view field) {
  return ValidationError(absl::StrCat("1 validation error detected: Value null at '", Absl(field),
                                      "' failed to satisfy constraint: Member must not be null"));
}

}  // namespace

FieldOr<std::optional<std::string>> GetOptionalString(const Json& body, std::string_view field,
                                                      size_t max_len) {
  const Json* v = Find(body, field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return FieldTypeError(field, "a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_len) {
    return ValidationError(absl::StrCat(
        "1 validation error detected: Value at '", Absl(field),
        "' failed to satisfy constraint: Member must have length between 1 and ", max_len));
  }
  return std::optional<std::string>(s);
}

FieldOr<std::string> GetString(const Json& body, std::string_view field, size_t max_len) {
  auto r = GetOptionalString(body, field, max_len);
  if (IsError(r)) return std::get<AwsError>(std::move(r));
  auto& v = std::get<0>(r);
  if (!v) return Missing(field);
  return *std::move(v);
}

FieldOr<std::optional<Bytes>> GetOptionalBlob(const Json& body, std::string_view field,
                                              size_t max_bytes) {
  const Json* v = Find(body, field);
  if (v == nullptr) return std::optional<Bytes>();
  if (!v->is_string()) return FieldTypeError(field, "a base64-encoded blob");
  auto decoded = Base64Decode(v->get_ref<const std::string&>());
  if (!decoded.ok()) {
    return AwsError{"SerializationException",
                    absl::StrCat("Field '", Absl(field), "' is not valid base64"), 400};
  }
  if (decoded->empty() || decoded->size() > max_bytes) {
    return ValidationError(absl::StrCat(
        "1 validation error detected: Value at '", Absl(field),
        "' failed to satisfy constraint: Member must have length between 1 and ", max_bytes));
  }
  return std::optional<Bytes>(*std::move(decoded));
}

FieldOr<Bytes> GetBlob(const Json& body, std::string_view field, size_t max_bytes) {
  auto r = GetOptionalBlob(body, field, max_bytes);
  if (IsError(r)) return std::get<AwsError>(std::move(r));
  auto& v = std::get<0>(r);
  if (!v) return Missing(field);
  return *std::move(v);
}

FieldOr<std::optional<int64_t>> GetOptionalInt(const Json& body, std::string_view field,
                                               int64_t min, int64_t max) {
  const Json* v = Find(body, field);
  if (v == nullptr) return std::optional<int64_t>();
  if (!v->is_number_integer()) return FieldTypeError(field, "an integer");
  int64_t n = v->get<int64_t>();
  if (n < min || n > max) {
    return ValidationError(absl::StrCat("1 validation error detected: Value '", n, "' at '",
                                        Absl(field), "' failed to satisfy constraint: Member must ",
                                        "have value between ", min, " and ", max));
  }
  return std::optional<int64_t>(n);
}

FieldOr<std::optional<bool>> GetOptionalBool(const Json& body, std::string_view field) {
  const Json* v = Find(body, field);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return FieldTypeError(field, "a boolean");
  return std::optional<bool>(v->get<bool>());
}

FieldOr<std::optional<std::map<std::string, std::string>>> GetOptionalStringMap(
    const Json& body, std::string_view field) {
  using Map = std::map<std::string, std::string>;
  const Json* v = Find(body, field);
  if (v == nullptr) return std::optional<Map>();
  if (!v->is_object()) return FieldTypeError(field, "a map of strings");
  Map out;
  for (const auto& [k, val] : v->items()) {
    if (!val.is_string()) return FieldTypeError(field, "a map of strings");
    out[k] = val.get<std::string>();
  }
  return std::optional<Map>(std::move(out));
}

}  // namespace lockout::localaws
