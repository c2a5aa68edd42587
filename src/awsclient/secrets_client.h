#pragma once

// SecretsClient: the AWS Secrets Manager operations lockout uses, typed, over AwsJsonClient.
//
//   ASSIGN_OR_RETURN(auto sm, SecretsClient::Create(endpoint, credentials, "us-east-1"));
//   ASSIGN_OR_RETURN(SecretValue v, sm->GetSecretValue("lockout/key"));
//   // v.kind == SecretKind::kBinary, v.value is SecretBytes
//
// Secret values go in and come out as SecretBytes; the JSON strings that carried them are wiped.
// SecretBinary is base64 on the wire; SecretString must be UTF-8 (InvalidArgument otherwise).
// CreateSecret and PutSecretValue send a ClientRequestToken (a random UUID unless given), so a
// retried call cannot create a second version. Service errors carry an AwsCallError
// (e.g. "ResourceNotFoundException" -> NotFound). Malformed replies: Internal naming the field.
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
#include "src/common/secret_bytes.h"

namespace lockout::awsclient {

enum class SecretKind { kBinary, kString };

struct CreateSecretOptions {
  std::optional<std::string> description;
  std::optional<std::string> kms_key_id;
  std::optional<std::string> client_request_token;  // random UUID when absent
  std::map<std::string, std::string> tags;
};

// What CreateSecret / PutSecretValue return.
struct SecretVersionRef {
  std::string arn;
  std::string name;
  std::string version_id;
  std::vector<std::string> version_stages;
};

struct GetSecretValueOptions {
  std::optional<std::string> version_id;
  std::optional<std::string> version_stage;
};

struct SecretValue {
  std::string arn;
  std::string name;
  std::string version_id;
  std::vector<std::string> version_stages;
  SecretKind kind = SecretKind::kBinary;
  SecretBytes value;
  std::optional<absl::Time> created_date;
};

struct SecretDescription {
  std::string arn;
  std::string name;
  std::string description;
  std::string kms_key_id;
  std::optional<absl::Time> created_date;
  std::optional<absl::Time> last_changed_date;
  std::optional<absl::Time> deleted_date;
  // VersionIdsToStages.
  std::map<std::string, std::vector<std::string>> version_ids_to_stages;
};

class SecretsClient final {
 public:
  explicit SecretsClient(std::unique_ptr<AwsJsonClient> client);

  // A client for Secrets Manager at `endpoint` in `region`. Errors as AwsJsonClient::Create.
  static absl::StatusOr<std::unique_ptr<SecretsClient>> Create(
      EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
      RetryPolicy retry = {}, RetryEnvironment environment = {},
      HttpTransportOptions transport_options = {});

  absl::StatusOr<SecretVersionRef> CreateSecret(std::string_view name, const SecretBytes& value,
                                                SecretKind kind = SecretKind::kBinary,
                                                const CreateSecretOptions& options = {});
  absl::StatusOr<SecretVersionRef> PutSecretValue(
      std::string_view secret_id, const SecretBytes& value, SecretKind kind = SecretKind::kBinary,
      std::optional<std::string> client_request_token = std::nullopt);
  // UpdateSecret with a new value (secretsmanager:UpdateSecret): like PutSecretValue, a new
  // version unless `client_request_token` names an existing version holding the same value
  // (then AWS ignores the request) or a different one (ResourceExistsException).
  absl::StatusOr<SecretVersionRef> UpdateSecret(
      std::string_view secret_id, const SecretBytes& value, SecretKind kind = SecretKind::kBinary,
      std::optional<std::string> client_request_token = std::nullopt);
  // NotFound (ResourceNotFoundException) for an unknown secret; Internal if the reply has
  // neither SecretBinary nor SecretString.
  absl::StatusOr<SecretValue> GetSecretValue(std::string_view secret_id,
                                             const GetSecretValueOptions& options = {});
  absl::StatusOr<SecretDescription> DescribeSecret(std::string_view secret_id);

  AwsJsonClient& json_client() { return *client_; }

 private:
  // PutSecretValue / UpdateSecret: the same request shape for a new value.
  absl::StatusOr<SecretVersionRef> NewVersion(std::string_view operation,
                                              std::string_view secret_id, const SecretBytes& value,
                                              SecretKind kind,
                                              std::optional<std::string> client_request_token);

  std::unique_ptr<AwsJsonClient> client_;
};

}  // namespace lockout::awsclient
