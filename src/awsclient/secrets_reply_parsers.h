#pragma once

// The parsers SecretsClient applies to Secrets Manager's JSON replies (untrusted input), exposed
// for the fuzz target (fuzz/secrets_reply_fuzzer.cc) and tests. Internal.
//
// Each takes the reply object AwsJsonClient::Call returned and gives the typed result, or an
// Internal error naming the operation and the field (json_fields.h), never a value. The secret
// value goes straight into SecretBytes; the caller owns `reply` and wipes it.
// Thread-safety: pure functions.

#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/secrets_client.h"

namespace lockout::awsclient::internal {

// CreateSecret, PutSecretValue, UpdateSecret; `what` names the operation.
absl::StatusOr<SecretVersionRef> ParseVersionRef(const nlohmann::json& reply,
                                                 std::string_view what);
absl::StatusOr<SecretValue> ParseGetSecretValueReply(const nlohmann::json& reply);
absl::StatusOr<SecretDescription> ParseDescribeSecretReply(const nlohmann::json& reply);

}  // namespace lockout::awsclient::internal
