#pragma once

// Reading fields of AWS JSON replies (untrusted input) for the typed clients. Internal.
//
// Every function names the operation and the field in its errors (Internal: "malformed reply"),
// never the value. Blob fields are base64 (strict, src/common/encoding.h).
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"

namespace lockout::awsclient::internal {

// A required string field.
absl::StatusOr<std::string> RequiredString(const nlohmann::json& reply, std::string_view field,
                                           std::string_view what);
// An optional string field ("" when absent or null).
absl::StatusOr<std::string> OptionalString(const nlohmann::json& reply, std::string_view field,
                                           std::string_view what);
// A required / optional base64 blob.
absl::StatusOr<Bytes> RequiredBlob(const nlohmann::json& reply, std::string_view field,
                                   std::string_view what);
absl::StatusOr<std::optional<Bytes>> OptionalBlob(const nlohmann::json& reply,
                                                  std::string_view field, std::string_view what);
// An optional base64 blob holding a secret; the decoded bytes go straight to SecretBytes and
// every intermediate copy is wiped.
absl::StatusOr<std::optional<SecretBytes>> OptionalSecretBlob(const nlohmann::json& reply,
                                                              std::string_view field,
                                                              std::string_view what);
// An optional boolean (false when absent).
absl::StatusOr<bool> OptionalBool(const nlohmann::json& reply, std::string_view field,
                                  std::string_view what);
// An optional JSON 1.1 timestamp: epoch seconds as a number (what AWS sends), or RFC 3339 text.
absl::StatusOr<std::optional<absl::Time>> OptionalTimestamp(const nlohmann::json& reply,
                                                            std::string_view field,
                                                            std::string_view what);
// An optional array of strings.
absl::StatusOr<std::vector<std::string>> OptionalStringList(const nlohmann::json& reply,
                                                            std::string_view field,
                                                            std::string_view what);

// The Internal error for a malformed reply field.
absl::Status MalformedField(std::string_view what, std::string_view field, std::string_view why);

}  // namespace lockout::awsclient::internal
