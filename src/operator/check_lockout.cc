#include "src/operator/check_lockout.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "src/awsclient/aws_call_error.h"
#include "src/common/strings.h"
#include "src/operator/create_key.h"

namespace lockout::ops {
namespace {

std::string TypeOf(const absl::Status& status) {
  std::optional<awsclient::AwsCallError> e = awsclient::GetAwsCallError(status);
  return e ? e->type : "";
}

}  // namespace

CheckLockoutResult CheckLockout(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
                                std::string_view kms_key_id, std::string_view secret_name) {
  CheckLockoutResult result;
  absl::StatusOr<awsclient::SecretValue> secret = secrets.GetSecretValue(secret_name);
  if (!secret.ok()) {
    result.aws_error = TypeOf(secret.status());
    result.reason = absl::StrCat(
        "cannot read the secret \"", Absl(secret_name), "\" to try it (", secret.status().message(),
        "); run check-lockout with credentials that may call secretsmanager:GetSecretValue, "
        "e.g. the instance role's");
    return result;
  }
  if (secret->kind != awsclient::SecretKind::kBinary) {
    result.reason = absl::StrCat("the secret \"", Absl(secret_name),
                                 "\" holds a SecretString, not the SecretBinary create-key stores");
    return result;
  }
  awsclient::DecryptRequest request;
  request.ciphertext_blob.assign(secret->value.Reveal().begin(), secret->value.Reveal().end());
  request.key_id = std::string(kms_key_id);
  request.encryption_context = SecretEncryptionContext(secret_name);
  absl::StatusOr<awsclient::DecryptResult> decrypted = kms.Decrypt(request);
  if (decrypted.ok()) {
    const size_t size = decrypted->plaintext.size();
    decrypted->plaintext.Clear();
    result.verdict = LockoutVerdict::kNotLockedOut;
    result.kms_key_id = decrypted->key_id;
    result.reason = absl::StrCat(
        "KMS decrypted the key (", size,
        " bytes, wiped) for these credentials without any attestation: anyone holding them can "
        "read the signing key. Apply the lock-out policy (lockout policy ... --apply) and rerun");
    return result;
  }
  result.aws_error = TypeOf(decrypted.status());
  if (result.aws_error == "AccessDeniedException") {
    result.verdict = LockoutVerdict::kLockedOut;
    result.reason = "KMS refused Decrypt without an attestation document (AccessDeniedException)";
    return result;
  }
  if (result.aws_error == "InvalidCiphertextException") {
    result.reason = absl::StrCat(
        "KMS says the secret's ciphertext does not decrypt under --kms-key with the context "
        "{\"lockout:secret\": \"",
        Absl(secret_name),
        "\"): was it made by `lockout create-key` for this key and secret name? Nothing proven");
  } else if (result.aws_error == "IncorrectKeyException") {
    result.reason = "the secret was encrypted under a different KMS key than --kms-key";
  } else {
    result.reason = absl::StrCat("KMS Decrypt failed for another reason (",
                                 decrypted.status().message(), "): nothing proven");
  }
  return result;
}

}  // namespace lockout::ops
