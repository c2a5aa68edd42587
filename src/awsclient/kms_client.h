#pragma once

// KmsClient: the AWS KMS operations lockout uses, typed, over AwsJsonClient.
//
//   ASSIGN_OR_RETURN(auto kms, KmsClient::Create(endpoint, credentials, "us-east-1"));
//   DecryptRequest request{.ciphertext_blob = blob,
//                          .recipient = KmsRecipient{.attestation_document = doc}};
//   ASSIGN_OR_RETURN(DecryptResult r, kms->Decrypt(request));   // r.ciphertext_for_recipient
//
// Blobs are Bytes (base64 on the wire); plaintexts go in and come out as SecretBytes, and the
// JSON strings that carried them are wiped. With a Recipient, KMS returns CiphertextForRecipient
// (a CMS EnvelopedData for the attested RSA key, crypto/cms_envelope.h) and no Plaintext.
// A reply missing a required field, or with a field of the wrong type or bad base64, is an
// Internal error naming the field. Service errors carry an AwsCallError (aws_call_error.h):
// e.g. IsAwsErrorType(status, "AccessDeniedException").
//
// Thread-safety: thread-safe (AwsJsonClient is).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/awsclient/aws_json_client.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"

namespace lockout::awsclient {

using EncryptionContext = std::map<std::string, std::string>;

inline constexpr std::string_view kRsaesOaepSha256 = "RSAES_OAEP_SHA_256";

// Decrypt/GenerateDataKey "Recipient": the Nitro attestation document carrying the public key
// KMS encrypts the result to.
struct KmsRecipient {
  Bytes attestation_document;
  std::string key_encryption_algorithm = std::string(kRsaesOaepSha256);
};

struct EncryptResult {
  Bytes ciphertext_blob;
  std::string key_id;  // the key's ARN
  std::string encryption_algorithm;
};

struct DecryptRequest {
  Bytes ciphertext_blob;
  std::optional<std::string> key_id;
  EncryptionContext encryption_context;
  std::optional<KmsRecipient> recipient;
  std::vector<std::string> grant_tokens;  // GrantTokens: use a grant before it is consistent
  // DryRun: KMS authorises and answers DryRunOperationException instead of decrypting.
  bool dry_run = false;
};

struct DecryptResult {
  std::string key_id;
  SecretBytes plaintext;  // empty when a recipient was given
  std::optional<Bytes> ciphertext_for_recipient;
  std::string encryption_algorithm;
};

struct GenerateDataKeyRequest {
  std::string key_id;
  // Exactly one of key_spec ("AES_256", "AES_128") and number_of_bytes (1..1024).
  std::optional<std::string> key_spec = "AES_256";
  std::optional<int> number_of_bytes;
  EncryptionContext encryption_context;
  std::optional<KmsRecipient> recipient;
};

struct GenerateDataKeyResult {
  std::string key_id;
  Bytes ciphertext_blob;
  SecretBytes plaintext;  // empty when a recipient was given
  std::optional<Bytes> ciphertext_for_recipient;
};

struct ReEncryptRequest {
  Bytes ciphertext_blob;
  std::optional<std::string> source_key_id;
  EncryptionContext source_encryption_context;
  std::string destination_key_id;
  EncryptionContext destination_encryption_context;
  std::vector<std::string> grant_tokens;
  bool dry_run = false;  // see DecryptRequest::dry_run
};

struct ReEncryptResult {
  Bytes ciphertext_blob;  // under the destination key
  std::string source_key_id;
  std::string key_id;  // the destination key's ARN
};

// CreateGrant. Operations are KMS operation names ("Decrypt", "ReEncryptFrom", ...).
struct CreateGrantRequest {
  std::string key_id;
  std::string grantee_principal;
  std::optional<std::string> retiring_principal;
  std::vector<std::string> operations;
  std::optional<std::string> name;
  // Constraints: EncryptionContextEquals / EncryptionContextSubset (at most one is sent each).
  std::optional<EncryptionContext> encryption_context_equals;
  std::optional<EncryptionContext> encryption_context_subset;
  bool dry_run = false;
};

struct CreateGrantResult {
  std::string grant_token;
  std::string grant_id;
};

struct GrantEntry {
  std::string key_id;
  std::string grant_id;
  std::string name;
  std::string grantee_principal;
  std::string retiring_principal;
  std::vector<std::string> operations;
};

struct AliasEntry {
  std::string alias_name;
  std::string alias_arn;
  std::string target_key_id;  // empty for an AWS managed alias without a key
};

struct CreateKeyRequest {
  std::optional<std::string> description;
  std::optional<std::string> policy;  // the key policy JSON document
  bool bypass_policy_lockout_safety_check = false;
  std::string key_usage = "ENCRYPT_DECRYPT";
  std::string key_spec = "SYMMETRIC_DEFAULT";
  std::map<std::string, std::string> tags;
};

struct KeyMetadata {
  std::string key_id;
  std::string arn;
  std::string aws_account_id;
  std::string description;
  std::string key_state;  // "Enabled", "Disabled", "PendingDeletion", ...
  std::string key_usage;
  std::string key_spec;
  std::string key_manager;
  bool enabled = false;
  std::optional<absl::Time> creation_date;
};

class KmsClient final {
 public:
  explicit KmsClient(std::unique_ptr<AwsJsonClient> client);

  // A client for KMS at `endpoint` in `region`. Errors as AwsJsonClient::Create.
  static absl::StatusOr<std::unique_ptr<KmsClient>> Create(
      EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
      RetryPolicy retry = {}, RetryEnvironment environment = {},
      HttpTransportOptions transport_options = {});

  absl::StatusOr<EncryptResult> Encrypt(std::string_view key_id, const SecretBytes& plaintext,
                                        const EncryptionContext& encryption_context = {});
  absl::StatusOr<DecryptResult> Decrypt(const DecryptRequest& request);
  absl::StatusOr<GenerateDataKeyResult> GenerateDataKey(const GenerateDataKeyRequest& request);
  absl::StatusOr<KeyMetadata> CreateKey(const CreateKeyRequest& request);
  absl::StatusOr<KeyMetadata> DescribeKey(std::string_view key_id);
  // The key policy document (JSON text).
  absl::StatusOr<std::string> GetKeyPolicy(std::string_view key_id,
                                           std::string_view policy_name = "default");
  absl::Status PutKeyPolicy(std::string_view key_id, std::string_view policy,
                            bool bypass_policy_lockout_safety_check,
                            std::string_view policy_name = "default");
  absl::Status CreateAlias(std::string_view alias_name, std::string_view target_key_id);
  absl::Status UpdateAlias(std::string_view alias_name, std::string_view target_key_id);
  // Every alias (all pages), or only those of `key_id` when given.
  absl::StatusOr<std::vector<AliasEntry>> ListAliases(
      std::optional<std::string_view> key_id = std::nullopt);

  // Encrypt with DryRun=true (a one-byte dummy plaintext): the status KMS answers, which is
  // DryRunOperationException when the caller may encrypt under the key.
  absl::Status EncryptDryRun(std::string_view key_id,
                             const EncryptionContext& encryption_context = {});
  absl::StatusOr<ReEncryptResult> ReEncrypt(const ReEncryptRequest& request);

  absl::StatusOr<CreateGrantResult> CreateGrant(const CreateGrantRequest& request);
  // Every grant of `key_id` (all pages).
  absl::StatusOr<std::vector<GrantEntry>> ListGrants(std::string_view key_id);
  absl::Status RevokeGrant(std::string_view key_id, std::string_view grant_id);
  // RetireGrant by token (the retiring or grantee principal may call it).
  absl::Status RetireGrant(std::string_view grant_token);

  // The key's new state ("PendingDeletion"). `pending_window_days` 7..30.
  absl::StatusOr<std::string> ScheduleKeyDeletion(std::string_view key_id,
                                                  int pending_window_days = 7);

  AwsJsonClient& json_client() { return *client_; }

 private:
  std::unique_ptr<AwsJsonClient> client_;
};

}  // namespace lockout::awsclient
