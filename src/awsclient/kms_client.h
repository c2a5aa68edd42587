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

  AwsJsonClient& json_client() { return *client_; }

 private:
  std::unique_ptr<AwsJsonClient> client_;
};

}  // namespace lockout::awsclient
