#pragma once

// `lockout check-lockout`: proves (or disproves) the lock-out by trying it.
//
// Reads the secret's ciphertext (Secrets Manager GetSecretValue) and asks KMS to Decrypt it with
// the caller's credentials, the encryption context {"lockout:secret": NAME} and NO attestation
// document — what anyone outside the enclave (root on the parent with the instance role's
// credentials, the account root, an admin) would do. The verdict:
//   kLockedOut     KMS answered AccessDeniedException: the only outcome that proves anything;
//   kNotLockedOut  KMS returned the plaintext (wiped at once, never printed);
//   kInconclusive  anything else (the secret is unreadable, the ciphertext does not belong to the
//                  key or context, KMS unreachable, ...): the reason says what to fix.
// Thread-safety: reentrant.

#include <string>

#include "absl/status/statusor.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"

namespace lockout::ops {

enum class LockoutVerdict { kLockedOut, kNotLockedOut, kInconclusive };

struct CheckLockoutResult {
  LockoutVerdict verdict = LockoutVerdict::kInconclusive;
  std::string reason;      // one sentence for the operator
  std::string aws_error;   // AWS error type if KMS/Secrets Manager refused, else empty
  std::string kms_key_id;  // as KMS reported it on success
  bool locked_out() const { return verdict == LockoutVerdict::kLockedOut; }
};

// Never fails: every failure is a verdict with a reason.
CheckLockoutResult CheckLockout(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
                                std::string_view kms_key_id, std::string_view secret_name);

}  // namespace lockout::ops
