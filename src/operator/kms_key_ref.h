#pragma once

// The KMS key an operator command was given (--kms-key, --probe-key), in any of the four forms
// KMS accepts somewhere: key id, key ARN, alias name (alias/NAME) and alias ARN. Many KMS
// operations (GetKeyPolicy, PutKeyPolicy, ListGrants, RevokeGrant, ListAliases) accept only a key
// id or key ARN, so every command resolves its key once, here, and uses the key ARN after.
//
// Resolution: DescribeKey (which takes all four forms) -> KeyMetadata.KeyId and Arn. When
// DescribeKey is denied (the instance role usually may not call it; the recommended key policy
// denies it to the policy admin), a key id or key ARN is used as given and an alias is looked up
// with ListAliases (decided by identity policies alone); when that is denied too, the alias
// cannot be resolved and the error says so.
// Errors teach: NotFound names the key as given and what to check (the name, AWS_REGION, the
// account of the credentials); PermissionDenied says to pass the key ARN.
// Thread-safety: reentrant (the client is thread-safe).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/awsclient/kms_client.h"

namespace lockout::ops {

enum class KmsKeyForm { kKeyId, kKeyArn, kAliasName, kAliasArn };

// The form of `input` by its syntax alone (InvalidArgument for an empty input or an ARN that is
// neither a key nor an alias ARN of KMS).
absl::StatusOr<KmsKeyForm> KmsKeyFormOf(std::string_view input);

struct KmsKeyRef {
  std::string input;   // as the operator gave it
  std::string key_id;  // the key id (e.g. 1234abcd-...); the input when it could not be resolved
  // The key ARN, or empty when DescribeKey was denied and the input was a bare key id.
  std::string arn;
  bool resolved = false;  // DescribeKey answered

  // What to pass to KMS: the ARN when known, else the key id.
  const std::string& id() const { return arn.empty() ? key_id : arn; }
  // For messages: "alias/x (arn:aws:kms:...:key/...)" or just the ARN / id.
  std::string Describe() const;
};

// `what` names the flag in messages ("--kms-key").
absl::StatusOr<KmsKeyRef> ResolveKmsKey(awsclient::KmsClient& kms, std::string_view input,
                                        std::string_view what = "--kms-key");

}  // namespace lockout::ops
