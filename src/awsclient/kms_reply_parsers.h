#pragma once

// The parsers KmsClient applies to KMS's JSON replies (untrusted input), one per operation,
// exposed for the fuzz target (fuzz/kms_reply_fuzzer.cc) and tests. Internal.
//
// Each takes the reply object AwsJsonClient::Call returned and gives the typed result, or an
// Internal error naming the operation and the field (json_fields.h), never a value. They do not
// wipe `reply`: the caller owns it and wipes the replies that held a plaintext or a grant token.
// Thread-safety: pure functions.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/kms_client.h"

namespace lockout::awsclient::internal {

absl::StatusOr<EncryptResult> ParseEncryptReply(const nlohmann::json& reply);
// `with_recipient`: the request carried a Recipient, so the reply must hold
// CiphertextForRecipient (and, for Decrypt, no non-empty Plaintext).
absl::StatusOr<DecryptResult> ParseDecryptReply(const nlohmann::json& reply, bool with_recipient);
absl::StatusOr<GenerateDataKeyResult> ParseGenerateDataKeyReply(const nlohmann::json& reply,
                                                                bool with_recipient);
// CreateKey and DescribeKey; `what` names the operation ("kms.DescribeKey").
absl::StatusOr<KeyMetadata> ParseKeyMetadata(const nlohmann::json& reply, std::string_view what);
absl::StatusOr<std::string> ParseGetKeyPolicyReply(const nlohmann::json& reply);
absl::StatusOr<ReEncryptResult> ParseReEncryptReply(const nlohmann::json& reply);
absl::StatusOr<CreateGrantResult> ParseCreateGrantReply(const nlohmann::json& reply);
absl::StatusOr<std::string> ParseScheduleKeyDeletionReply(const nlohmann::json& reply);
// One element of ListGrants' "Grants" / ListAliases' "Aliases".
absl::StatusOr<GrantEntry> ParseGrantEntry(const nlohmann::json& item);
absl::StatusOr<AliasEntry> ParseAliasEntry(const nlohmann::json& item);

// One page of a paginated List* reply: hands each object of `list_field` (absent or null: none)
// to `parse`, then gives the NextMarker when Truncated is true, nullopt when it is the last page.
absl::StatusOr<std::optional<std::string>> ParseListPage(
    const nlohmann::json& reply, std::string_view operation, std::string_view list_field,
    const std::function<absl::Status(const nlohmann::json&)>& parse);

}  // namespace lockout::awsclient::internal
