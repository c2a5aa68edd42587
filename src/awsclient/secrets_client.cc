#include "src/awsclient/secrets_client.h"

#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/json_fields.h"
#include "src/awsclient/secrets_reply_parsers.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::awsclient {
namespace {

using internal::OptionalSecretBlob;
using internal::OptionalString;
using internal::OptionalStringList;
using internal::OptionalTimestamp;
using internal::RequiredString;
using nlohmann::json;

// Puts `value` into `body` as SecretBinary (base64) or SecretString. The caller wipes `body`.
absl::Status SetSecretField(json& body, const SecretBytes& value, SecretKind kind,
                            std::string_view what) {
  if (kind == SecretKind::kBinary) {
    body["SecretBinary"] = Base64Encode(value.Reveal());
    return absl::OkStatus();
  }
  // JSON strings are Unicode: refuse bytes that are not UTF-8 here, with a clear message, rather
  // than when serialising.
  std::string text(value.RevealAsString());
  absl::Cleanup wipe = [&text] { WipeString(text); };
  try {
    (void)json(text).dump();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(what), ": SecretString must be UTF-8 (", value.size(), " bytes)"));
  }
  body["SecretString"] = text;
  return absl::OkStatus();
}

}  // namespace

namespace internal {

absl::StatusOr<SecretVersionRef> ParseVersionRef(const json& reply, std::string_view what) {
  SecretVersionRef out;
  ASSIGN_OR_RETURN(out.arn, RequiredString(reply, "ARN", what));
  ASSIGN_OR_RETURN(out.name, OptionalString(reply, "Name", what));
  ASSIGN_OR_RETURN(out.version_id, OptionalString(reply, "VersionId", what));
  ASSIGN_OR_RETURN(out.version_stages, OptionalStringList(reply, "VersionStages", what));
  return out;
}

absl::StatusOr<SecretValue> ParseGetSecretValueReply(const json& reply) {
  constexpr std::string_view kWhat = "secretsmanager.GetSecretValue";
  SecretValue out;
  ASSIGN_OR_RETURN(out.arn, RequiredString(reply, "ARN", kWhat));
  ASSIGN_OR_RETURN(out.name, OptionalString(reply, "Name", kWhat));
  ASSIGN_OR_RETURN(out.version_id, OptionalString(reply, "VersionId", kWhat));
  ASSIGN_OR_RETURN(out.version_stages, OptionalStringList(reply, "VersionStages", kWhat));
  ASSIGN_OR_RETURN(out.created_date, OptionalTimestamp(reply, "CreatedDate", kWhat));
  ASSIGN_OR_RETURN(std::optional<SecretBytes> binary,
                   OptionalSecretBlob(reply, "SecretBinary", kWhat));
  if (binary.has_value()) {
    out.kind = SecretKind::kBinary;
    out.value = *std::move(binary);
    return out;
  }
  auto it = reply.find("SecretString");
  if (it == reply.end() || it->is_null()) {
    return MalformedField(kWhat, "SecretBinary/SecretString", "are both missing");
  }
  if (!it->is_string()) return MalformedField(kWhat, "SecretString", "is not a string");
  out.kind = SecretKind::kString;
  out.value = SecretBytes::CopyFrom(std::string_view(it->get_ref<const std::string&>()));
  return out;
}

absl::StatusOr<SecretDescription> ParseDescribeSecretReply(const json& reply) {
  constexpr std::string_view kWhat = "secretsmanager.DescribeSecret";
  SecretDescription out;
  ASSIGN_OR_RETURN(out.arn, RequiredString(reply, "ARN", kWhat));
  ASSIGN_OR_RETURN(out.name, OptionalString(reply, "Name", kWhat));
  ASSIGN_OR_RETURN(out.description, OptionalString(reply, "Description", kWhat));
  ASSIGN_OR_RETURN(out.kms_key_id, OptionalString(reply, "KmsKeyId", kWhat));
  ASSIGN_OR_RETURN(out.created_date, OptionalTimestamp(reply, "CreatedDate", kWhat));
  ASSIGN_OR_RETURN(out.last_changed_date, OptionalTimestamp(reply, "LastChangedDate", kWhat));
  ASSIGN_OR_RETURN(out.deleted_date, OptionalTimestamp(reply, "DeletedDate", kWhat));
  auto it = reply.find("VersionIdsToStages");
  if (it != reply.end() && !it->is_null()) {
    if (!it->is_object()) {
      return MalformedField(kWhat, "VersionIdsToStages", "is not an object");
    }
    for (const auto& [version, stages] : it->items()) {
      std::vector<std::string>& list = out.version_ids_to_stages[version];
      if (!stages.is_array()) {
        return MalformedField(kWhat, "VersionIdsToStages", "has a non-array value");
      }
      for (const auto& stage : stages) {
        if (!stage.is_string()) {
          return MalformedField(kWhat, "VersionIdsToStages", "has a non-string stage");
        }
        list.push_back(stage.get<std::string>());
      }
    }
  }
  return out;
}

}  // namespace internal

SecretsClient::SecretsClient(std::unique_ptr<AwsJsonClient> client) : client_(std::move(client)) {}

absl::StatusOr<std::unique_ptr<SecretsClient>> SecretsClient::Create(
    EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
    RetryPolicy retry, RetryEnvironment environment, HttpTransportOptions transport_options) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<AwsJsonClient> client,
      AwsJsonClient::CreateForService(kSecretsManagerService, std::move(endpoint),
                                      std::move(credentials), std::move(region), retry,
                                      std::move(environment), std::move(transport_options)));
  return std::make_unique<SecretsClient>(std::move(client));
}

absl::StatusOr<SecretVersionRef> SecretsClient::CreateSecret(std::string_view name,
                                                             const SecretBytes& value,
                                                             SecretKind kind,
                                                             const CreateSecretOptions& options) {
  constexpr std::string_view kWhat = "secretsmanager.CreateSecret";
  json body = {{"Name", name},
               {"ClientRequestToken", options.client_request_token.value_or(crypto::RandomUuid())}};
  absl::Cleanup wipe = [&body] { WipeJsonStrings(body); };
  if (options.description.has_value()) body["Description"] = *options.description;
  if (options.kms_key_id.has_value()) body["KmsKeyId"] = *options.kms_key_id;
  if (!options.tags.empty()) {
    json tags = json::array();
    for (const auto& [k, v] : options.tags) tags.push_back({{"Key", k}, {"Value", v}});
    body["Tags"] = std::move(tags);
  }
  RETURN_IF_ERROR(SetSecretField(body, value, kind, kWhat));
  ASSIGN_OR_RETURN(json reply, client_->Call("CreateSecret", body));
  return internal::ParseVersionRef(reply, kWhat);
}

absl::StatusOr<SecretVersionRef> SecretsClient::PutSecretValue(
    std::string_view secret_id, const SecretBytes& value, SecretKind kind,
    std::optional<std::string> client_request_token) {
  return NewVersion("PutSecretValue", secret_id, value, kind, std::move(client_request_token));
}

absl::StatusOr<SecretVersionRef> SecretsClient::UpdateSecret(
    std::string_view secret_id, const SecretBytes& value, SecretKind kind,
    std::optional<std::string> client_request_token) {
  return NewVersion("UpdateSecret", secret_id, value, kind, std::move(client_request_token));
}

absl::StatusOr<SecretVersionRef> SecretsClient::NewVersion(
    std::string_view operation, std::string_view secret_id, const SecretBytes& value,
    SecretKind kind, std::optional<std::string> client_request_token) {
  const std::string what = absl::StrCat("secretsmanager.", Absl(operation));
  json body = {{"SecretId", secret_id},
               {"ClientRequestToken", client_request_token.value_or(crypto::RandomUuid())}};
  absl::Cleanup wipe = [&body] { WipeJsonStrings(body); };
  RETURN_IF_ERROR(SetSecretField(body, value, kind, what));
  ASSIGN_OR_RETURN(json reply, client_->Call(operation, body));
  return internal::ParseVersionRef(reply, what);
}

absl::StatusOr<SecretValue> SecretsClient::GetSecretValue(std::string_view secret_id,
                                                          const GetSecretValueOptions& options) {
  json body = {{"SecretId", secret_id}};
  if (options.version_id.has_value()) body["VersionId"] = *options.version_id;
  if (options.version_stage.has_value()) body["VersionStage"] = *options.version_stage;
  ASSIGN_OR_RETURN(json reply, client_->Call("GetSecretValue", body));
  absl::Cleanup wipe = [&reply] { WipeJsonStrings(reply); };
  return internal::ParseGetSecretValueReply(reply);
}

absl::StatusOr<SecretDescription> SecretsClient::DescribeSecret(std::string_view secret_id) {
  ASSIGN_OR_RETURN(json reply, client_->Call("DescribeSecret", json{{"SecretId", secret_id}}));
  return internal::ParseDescribeSecretReply(reply);
}

}  // namespace lockout::awsclient
