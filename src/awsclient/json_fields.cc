#include "src/awsclient/json_fields.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"

namespace lockout::awsclient::internal {
namespace {

// nullptr when absent or JSON null.
const nlohmann::json* Find(const nlohmann::json& reply, std::string_view field) {
  if (!reply.is_object()) return nullptr;
  auto it = reply.find(std::string(field));
  if (it == reply.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

absl::Status MalformedField(std::string_view what, std::string_view field, std::string_view why) {
  return absl::InternalError(
      absl::StrCat(Absl(what), ": malformed reply: field ", Absl(field), " ", Absl(why)));
}

absl::StatusOr<std::string> RequiredString(const nlohmann::json& reply, std::string_view field,
                                           std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return MalformedField(what, field, "is missing");
  if (!value->is_string()) return MalformedField(what, field, "is not a string");
  return value->get<std::string>();
}

absl::StatusOr<std::string> OptionalString(const nlohmann::json& reply, std::string_view field,
                                           std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return MalformedField(what, field, "is not a string");
  return value->get<std::string>();
}

absl::StatusOr<std::optional<Bytes>> OptionalBlob(const nlohmann::json& reply,
                                                  std::string_view field, std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return std::optional<Bytes>();
  if (!value->is_string()) return MalformedField(what, field, "is not a string");
  absl::StatusOr<Bytes> decoded = Base64Decode(value->get_ref<const std::string&>());
  if (!decoded.ok()) return MalformedField(what, field, "is not valid base64");
  return std::optional<Bytes>(*std::move(decoded));
}

absl::StatusOr<Bytes> RequiredBlob(const nlohmann::json& reply, std::string_view field,
                                   std::string_view what) {
  absl::StatusOr<std::optional<Bytes>> blob = OptionalBlob(reply, field, what);
  if (!blob.ok()) return blob.status();
  if (!blob->has_value()) return MalformedField(what, field, "is missing");
  return **std::move(blob);
}

absl::StatusOr<std::optional<SecretBytes>> OptionalSecretBlob(const nlohmann::json& reply,
                                                              std::string_view field,
                                                              std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return std::optional<SecretBytes>();
  if (!value->is_string()) return MalformedField(what, field, "is not a string");
  absl::StatusOr<Bytes> decoded = Base64Decode(value->get_ref<const std::string&>());
  if (!decoded.ok()) return MalformedField(what, field, "is not valid base64");
  SecretBytes secret = SecretBytes::CopyFrom(*decoded);
  WipeBytes(*decoded);
  return std::optional<SecretBytes>(std::move(secret));
}

absl::StatusOr<bool> OptionalBool(const nlohmann::json& reply, std::string_view field,
                                  std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return false;
  if (!value->is_boolean()) return MalformedField(what, field, "is not a boolean");
  return value->get<bool>();
}

absl::StatusOr<std::optional<absl::Time>> OptionalTimestamp(const nlohmann::json& reply,
                                                            std::string_view field,
                                                            std::string_view what) {
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return std::optional<absl::Time>();
  if (value->is_number()) {
    const double seconds = value->get<double>();
    // Years 1970..9999: anything else is not a timestamp AWS sends.
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 253402300799.0) {
      return MalformedField(what, field, "is not a valid timestamp");
    }
    return std::optional<absl::Time>(absl::UnixEpoch() + absl::Seconds(seconds));
  }
  if (value->is_string()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(value->get_ref<const std::string&>());
    if (!t.ok()) return MalformedField(what, field, "is not a valid timestamp");
    return std::optional<absl::Time>(*t);
  }
  return MalformedField(what, field, "is not a timestamp");
}

absl::StatusOr<std::vector<std::string>> OptionalStringList(const nlohmann::json& reply,
                                                            std::string_view field,
                                                            std::string_view what) {
  std::vector<std::string> out;
  const nlohmann::json* value = Find(reply, field);
  if (value == nullptr) return out;
  if (!value->is_array()) return MalformedField(what, field, "is not an array");
  for (const auto& item : *value) {
    if (!item.is_string()) return MalformedField(what, field, "has a non-string element");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace lockout::awsclient::internal
