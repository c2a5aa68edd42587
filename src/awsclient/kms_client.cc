#include "src/awsclient/kms_client.h"

#include <functional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/json_fields.h"
#include "src/awsclient/kms_reply_parsers.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

using internal::OptionalBlob;
using internal::OptionalBool;
using internal::OptionalSecretBlob;
using internal::OptionalString;
using internal::OptionalTimestamp;
using internal::RequiredBlob;
using internal::RequiredString;
using nlohmann::json;

json ContextJson(const EncryptionContext& context) {
  json out = json::object();
  for (const auto& [k, v] : context) out[k] = v;
  return out;
}

// Calls a paginated List* operation until Truncated is false, handing each item of `list_field`
// to `parse`. At most 1,000 pages (a server that never stops is an error).
absl::Status ForEachPage(AwsJsonClient& client, std::string_view operation, json request,
                         std::string_view list_field,
                         const std::function<absl::Status(const json&)>& parse) {
  for (int page = 0; page < 1000; ++page) {
    ASSIGN_OR_RETURN(json reply, client.Call(operation, request));
    ASSIGN_OR_RETURN(std::optional<std::string> marker,
                     internal::ParseListPage(reply, operation, list_field, parse));
    if (!marker.has_value()) return absl::OkStatus();
    request["Marker"] = *std::move(marker);
  }
  return absl::InternalError(absl::StrCat("kms.", Absl(operation), ": more than 1000 pages"));
}

json RecipientJson(const KmsRecipient& recipient) {
  return json{{"KeyEncryptionAlgorithm", recipient.key_encryption_algorithm},
              {"AttestationDocument", Base64Encode(recipient.attestation_document)}};
}

}  // namespace

namespace internal {

absl::StatusOr<std::optional<std::string>> ParseListPage(
    const json& reply, std::string_view operation, std::string_view list_field,
    const std::function<absl::Status(const json&)>& parse) {
  const std::string what = absl::StrCat("kms.", Absl(operation));
  auto it = reply.find(list_field);
  if (it != reply.end() && !it->is_null()) {
    if (!it->is_array()) return MalformedField(what, list_field, "is not a list");
    for (const json& item : *it) {
      if (!item.is_object()) return MalformedField(what, list_field, "holds a non-object");
      RETURN_IF_ERROR(parse(item));
    }
  }
  ASSIGN_OR_RETURN(bool truncated, OptionalBool(reply, "Truncated", what));
  if (!truncated) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string marker, RequiredString(reply, "NextMarker", what));
  return std::optional<std::string>(std::move(marker));
}

absl::StatusOr<KeyMetadata> ParseKeyMetadata(const json& reply, std::string_view what) {
  auto it = reply.find("KeyMetadata");
  if (it == reply.end() || !it->is_object()) {
    return internal::MalformedField(what, "KeyMetadata", "is missing or not an object");
  }
  const json& m = *it;
  KeyMetadata out;
  ASSIGN_OR_RETURN(out.key_id, RequiredString(m, "KeyId", what));
  ASSIGN_OR_RETURN(out.arn, RequiredString(m, "Arn", what));
  ASSIGN_OR_RETURN(out.aws_account_id, OptionalString(m, "AWSAccountId", what));
  ASSIGN_OR_RETURN(out.description, OptionalString(m, "Description", what));
  ASSIGN_OR_RETURN(out.key_state, OptionalString(m, "KeyState", what));
  ASSIGN_OR_RETURN(out.key_usage, OptionalString(m, "KeyUsage", what));
  ASSIGN_OR_RETURN(out.key_spec, OptionalString(m, "KeySpec", what));
  ASSIGN_OR_RETURN(out.key_manager, OptionalString(m, "KeyManager", what));
  ASSIGN_OR_RETURN(out.enabled, OptionalBool(m, "Enabled", what));
  ASSIGN_OR_RETURN(out.creation_date, OptionalTimestamp(m, "CreationDate", what));
  return out;
}

absl::StatusOr<EncryptResult> ParseEncryptReply(const json& reply) {
  constexpr std::string_view kWhat = "kms.Encrypt";
  EncryptResult out;
  ASSIGN_OR_RETURN(out.ciphertext_blob, RequiredBlob(reply, "CiphertextBlob", kWhat));
  ASSIGN_OR_RETURN(out.key_id, OptionalString(reply, "KeyId", kWhat));
  ASSIGN_OR_RETURN(out.encryption_algorithm, OptionalString(reply, "EncryptionAlgorithm", kWhat));
  return out;
}

absl::StatusOr<DecryptResult> ParseDecryptReply(const json& reply, bool with_recipient) {
  constexpr std::string_view kWhat = "kms.Decrypt";
  DecryptResult out;
  ASSIGN_OR_RETURN(out.key_id, OptionalString(reply, "KeyId", kWhat));
  ASSIGN_OR_RETURN(out.encryption_algorithm, OptionalString(reply, "EncryptionAlgorithm", kWhat));
  ASSIGN_OR_RETURN(out.ciphertext_for_recipient,
                   OptionalBlob(reply, "CiphertextForRecipient", kWhat));
  ASSIGN_OR_RETURN(std::optional<SecretBytes> plaintext,
                   OptionalSecretBlob(reply, "Plaintext", kWhat));
  if (with_recipient) {
    // KMS encrypts to the attested key instead of returning the plaintext.
    if (!out.ciphertext_for_recipient.has_value()) {
      return MalformedField(kWhat, "CiphertextForRecipient",
                            "is missing although a Recipient was given");
    }
    if (plaintext.has_value() && !plaintext->empty()) {
      return MalformedField(kWhat, "Plaintext",
                            "is present although a Recipient "
                            "was given");
    }
  } else {
    if (!plaintext.has_value()) return MalformedField(kWhat, "Plaintext", "is missing");
    out.plaintext = *std::move(plaintext);
  }
  return out;
}

absl::StatusOr<GenerateDataKeyResult> ParseGenerateDataKeyReply(const json& reply,
                                                                bool with_recipient) {
  constexpr std::string_view kWhat = "kms.GenerateDataKey";
  GenerateDataKeyResult out;
  ASSIGN_OR_RETURN(out.key_id, OptionalString(reply, "KeyId", kWhat));
  ASSIGN_OR_RETURN(out.ciphertext_blob, RequiredBlob(reply, "CiphertextBlob", kWhat));
  ASSIGN_OR_RETURN(out.ciphertext_for_recipient,
                   OptionalBlob(reply, "CiphertextForRecipient", kWhat));
  ASSIGN_OR_RETURN(std::optional<SecretBytes> plaintext,
                   OptionalSecretBlob(reply, "Plaintext", kWhat));
  if (with_recipient) {
    if (!out.ciphertext_for_recipient.has_value()) {
      return MalformedField(kWhat, "CiphertextForRecipient",
                            "is missing although a Recipient was given");
    }
  } else {
    if (!plaintext.has_value()) return MalformedField(kWhat, "Plaintext", "is missing");
    out.plaintext = *std::move(plaintext);
  }
  return out;
}

absl::StatusOr<std::string> ParseGetKeyPolicyReply(const json& reply) {
  return RequiredString(reply, "Policy", "kms.GetKeyPolicy");
}

absl::StatusOr<ReEncryptResult> ParseReEncryptReply(const json& reply) {
  constexpr std::string_view kWhat = "kms.ReEncrypt";
  ReEncryptResult out;
  ASSIGN_OR_RETURN(out.ciphertext_blob, RequiredBlob(reply, "CiphertextBlob", kWhat));
  ASSIGN_OR_RETURN(out.source_key_id, OptionalString(reply, "SourceKeyId", kWhat));
  ASSIGN_OR_RETURN(out.key_id, OptionalString(reply, "KeyId", kWhat));
  return out;
}

absl::StatusOr<CreateGrantResult> ParseCreateGrantReply(const json& reply) {
  constexpr std::string_view kWhat = "kms.CreateGrant";
  CreateGrantResult out;
  ASSIGN_OR_RETURN(out.grant_token, RequiredString(reply, "GrantToken", kWhat));
  ASSIGN_OR_RETURN(out.grant_id, RequiredString(reply, "GrantId", kWhat));
  return out;
}

absl::StatusOr<std::string> ParseScheduleKeyDeletionReply(const json& reply) {
  return OptionalString(reply, "KeyState", "kms.ScheduleKeyDeletion");
}

absl::StatusOr<GrantEntry> ParseGrantEntry(const json& item) {
  constexpr std::string_view kWhat = "kms.ListGrants";
  GrantEntry g;
  ASSIGN_OR_RETURN(g.grant_id, RequiredString(item, "GrantId", kWhat));
  ASSIGN_OR_RETURN(g.key_id, OptionalString(item, "KeyId", kWhat));
  ASSIGN_OR_RETURN(g.name, OptionalString(item, "Name", kWhat));
  ASSIGN_OR_RETURN(g.grantee_principal, OptionalString(item, "GranteePrincipal", kWhat));
  ASSIGN_OR_RETURN(g.retiring_principal, OptionalString(item, "RetiringPrincipal", kWhat));
  ASSIGN_OR_RETURN(g.operations, OptionalStringList(item, "Operations", kWhat));
  return g;
}

absl::StatusOr<AliasEntry> ParseAliasEntry(const json& item) {
  constexpr std::string_view kWhat = "kms.ListAliases";
  AliasEntry a;
  ASSIGN_OR_RETURN(a.alias_name, RequiredString(item, "AliasName", kWhat));
  ASSIGN_OR_RETURN(a.alias_arn, OptionalString(item, "AliasArn", kWhat));
  ASSIGN_OR_RETURN(a.target_key_id, OptionalString(item, "TargetKeyId", kWhat));
  return a;
}

}  // namespace internal

KmsClient::KmsClient(std::unique_ptr<AwsJsonClient> client) : client_(std::move(client)) {}

absl::StatusOr<std::unique_ptr<KmsClient>> KmsClient::Create(
    EndpointConfig endpoint, std::shared_ptr<CredentialsProvider> credentials, std::string region,
    RetryPolicy retry, RetryEnvironment environment, HttpTransportOptions transport_options) {
  ASSIGN_OR_RETURN(std::unique_ptr<AwsJsonClient> client,
                   AwsJsonClient::CreateForService(
                       kKmsService, std::move(endpoint), std::move(credentials), std::move(region),
                       retry, std::move(environment), std::move(transport_options)));
  return std::make_unique<KmsClient>(std::move(client));
}

absl::StatusOr<EncryptResult> KmsClient::Encrypt(std::string_view key_id,
                                                 const SecretBytes& plaintext,
                                                 const EncryptionContext& encryption_context) {
  json request = {{"KeyId", key_id}, {"Plaintext", Base64Encode(plaintext.Reveal())}};
  absl::Cleanup wipe = [&request] { WipeJsonStrings(request["Plaintext"]); };
  if (!encryption_context.empty()) request["EncryptionContext"] = ContextJson(encryption_context);
  ASSIGN_OR_RETURN(json reply, client_->Call("Encrypt", request));
  return internal::ParseEncryptReply(reply);
}

absl::StatusOr<DecryptResult> KmsClient::Decrypt(const DecryptRequest& request) {
  json body = {{"CiphertextBlob", Base64Encode(request.ciphertext_blob)}};
  if (request.key_id.has_value()) body["KeyId"] = *request.key_id;
  if (!request.encryption_context.empty()) {
    body["EncryptionContext"] = ContextJson(request.encryption_context);
  }
  if (request.recipient.has_value()) body["Recipient"] = RecipientJson(*request.recipient);
  if (!request.grant_tokens.empty()) body["GrantTokens"] = request.grant_tokens;
  if (request.dry_run) body["DryRun"] = true;
  ASSIGN_OR_RETURN(json reply, client_->Call("Decrypt", body));
  absl::Cleanup wipe = [&reply] { WipeJsonStrings(reply); };
  return internal::ParseDecryptReply(reply, request.recipient.has_value());
}

absl::StatusOr<GenerateDataKeyResult> KmsClient::GenerateDataKey(
    const GenerateDataKeyRequest& request) {
  constexpr std::string_view kWhat = "kms.GenerateDataKey";
  if (request.key_spec.has_value() == request.number_of_bytes.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(kWhat), ": give exactly one of KeySpec and NumberOfBytes"));
  }
  json body = {{"KeyId", request.key_id}};
  if (request.key_spec.has_value()) body["KeySpec"] = *request.key_spec;
  if (request.number_of_bytes.has_value()) body["NumberOfBytes"] = *request.number_of_bytes;
  if (!request.encryption_context.empty()) {
    body["EncryptionContext"] = ContextJson(request.encryption_context);
  }
  if (request.recipient.has_value()) body["Recipient"] = RecipientJson(*request.recipient);
  ASSIGN_OR_RETURN(json reply, client_->Call("GenerateDataKey", body));
  absl::Cleanup wipe = [&reply] { WipeJsonStrings(reply); };
  return internal::ParseGenerateDataKeyReply(reply, request.recipient.has_value());
}

absl::StatusOr<KeyMetadata> KmsClient::CreateKey(const CreateKeyRequest& request) {
  json body = {{"KeyUsage", request.key_usage}, {"KeySpec", request.key_spec}};
  if (request.description.has_value()) body["Description"] = *request.description;
  if (request.policy.has_value()) body["Policy"] = *request.policy;
  if (request.bypass_policy_lockout_safety_check) body["BypassPolicyLockoutSafetyCheck"] = true;
  if (!request.tags.empty()) {
    json tags = json::array();
    for (const auto& [k, v] : request.tags) tags.push_back({{"TagKey", k}, {"TagValue", v}});
    body["Tags"] = std::move(tags);
  }
  ASSIGN_OR_RETURN(json reply, client_->Call("CreateKey", body));
  return internal::ParseKeyMetadata(reply, "kms.CreateKey");
}

absl::StatusOr<KeyMetadata> KmsClient::DescribeKey(std::string_view key_id) {
  ASSIGN_OR_RETURN(json reply, client_->Call("DescribeKey", json{{"KeyId", key_id}}));
  return internal::ParseKeyMetadata(reply, "kms.DescribeKey");
}

absl::StatusOr<std::string> KmsClient::GetKeyPolicy(std::string_view key_id,
                                                    std::string_view policy_name) {
  ASSIGN_OR_RETURN(json reply, client_->Call("GetKeyPolicy",
                                             json{{"KeyId", key_id}, {"PolicyName", policy_name}}));
  return internal::ParseGetKeyPolicyReply(reply);
}

absl::Status KmsClient::PutKeyPolicy(std::string_view key_id, std::string_view policy,
                                     bool bypass_policy_lockout_safety_check,
                                     std::string_view policy_name) {
  json body = {{"KeyId", key_id}, {"PolicyName", policy_name}, {"Policy", policy}};
  if (bypass_policy_lockout_safety_check) body["BypassPolicyLockoutSafetyCheck"] = true;
  return client_->Call("PutKeyPolicy", body).status();
}

absl::Status KmsClient::CreateAlias(std::string_view alias_name, std::string_view target_key_id) {
  return client_
      ->Call("CreateAlias", json{{"AliasName", alias_name}, {"TargetKeyId", target_key_id}})
      .status();
}

absl::Status KmsClient::UpdateAlias(std::string_view alias_name, std::string_view target_key_id) {
  return client_
      ->Call("UpdateAlias", json{{"AliasName", alias_name}, {"TargetKeyId", target_key_id}})
      .status();
}

absl::StatusOr<std::vector<AliasEntry>> KmsClient::ListAliases(
    std::optional<std::string_view> key_id) {
  json request = json::object();
  if (key_id.has_value()) request["KeyId"] = *key_id;
  std::vector<AliasEntry> out;
  RETURN_IF_ERROR(ForEachPage(*client_, "ListAliases", request, "Aliases",
                              [&](const json& item) -> absl::Status {
                                ASSIGN_OR_RETURN(AliasEntry a, internal::ParseAliasEntry(item));
                                out.push_back(std::move(a));
                                return absl::OkStatus();
                              }));
  return out;
}

absl::Status KmsClient::EncryptDryRun(std::string_view key_id,
                                      const EncryptionContext& encryption_context) {
  json request = {{"KeyId", key_id}, {"Plaintext", Base64Encode(ToBytes("x"))}, {"DryRun", true}};
  if (!encryption_context.empty()) request["EncryptionContext"] = ContextJson(encryption_context);
  return client_->Call("Encrypt", request).status();
}

absl::StatusOr<ReEncryptResult> KmsClient::ReEncrypt(const ReEncryptRequest& request) {
  json body = {{"CiphertextBlob", Base64Encode(request.ciphertext_blob)},
               {"DestinationKeyId", request.destination_key_id}};
  if (request.source_key_id.has_value()) body["SourceKeyId"] = *request.source_key_id;
  if (!request.source_encryption_context.empty()) {
    body["SourceEncryptionContext"] = ContextJson(request.source_encryption_context);
  }
  if (!request.destination_encryption_context.empty()) {
    body["DestinationEncryptionContext"] = ContextJson(request.destination_encryption_context);
  }
  if (!request.grant_tokens.empty()) body["GrantTokens"] = request.grant_tokens;
  if (request.dry_run) body["DryRun"] = true;
  ASSIGN_OR_RETURN(json reply, client_->Call("ReEncrypt", body));
  return internal::ParseReEncryptReply(reply);
}

absl::StatusOr<CreateGrantResult> KmsClient::CreateGrant(const CreateGrantRequest& request) {
  json body = {{"KeyId", request.key_id},
               {"GranteePrincipal", request.grantee_principal},
               {"Operations", request.operations}};
  if (request.retiring_principal.has_value()) {
    body["RetiringPrincipal"] = *request.retiring_principal;
  }
  if (request.name.has_value()) body["Name"] = *request.name;
  json constraints = json::object();
  if (request.encryption_context_equals.has_value()) {
    constraints["EncryptionContextEquals"] = ContextJson(*request.encryption_context_equals);
  }
  if (request.encryption_context_subset.has_value()) {
    constraints["EncryptionContextSubset"] = ContextJson(*request.encryption_context_subset);
  }
  if (!constraints.empty()) body["Constraints"] = std::move(constraints);
  if (request.dry_run) body["DryRun"] = true;
  ASSIGN_OR_RETURN(json reply, client_->Call("CreateGrant", body));
  absl::Cleanup wipe = [&reply] { WipeJsonStrings(reply); };  // the token is a bearer credential
  return internal::ParseCreateGrantReply(reply);
}

absl::StatusOr<std::vector<GrantEntry>> KmsClient::ListGrants(std::string_view key_id) {
  std::vector<GrantEntry> out;
  RETURN_IF_ERROR(ForEachPage(*client_, "ListGrants", json{{"KeyId", key_id}}, "Grants",
                              [&](const json& item) -> absl::Status {
                                ASSIGN_OR_RETURN(GrantEntry g, internal::ParseGrantEntry(item));
                                out.push_back(std::move(g));
                                return absl::OkStatus();
                              }));
  return out;
}

absl::Status KmsClient::RevokeGrant(std::string_view key_id, std::string_view grant_id) {
  return client_->Call("RevokeGrant", json{{"KeyId", key_id}, {"GrantId", grant_id}}).status();
}

absl::Status KmsClient::RetireGrant(std::string_view grant_token) {
  json body = {{"GrantToken", grant_token}};
  absl::Cleanup wipe = [&body] { WipeJsonStrings(body); };
  return client_->Call("RetireGrant", body).status();
}

absl::StatusOr<std::string> KmsClient::ScheduleKeyDeletion(std::string_view key_id,
                                                           int pending_window_days) {
  ASSIGN_OR_RETURN(json reply, client_->Call("ScheduleKeyDeletion",
                                             json{{"KeyId", key_id},
                                                  {"PendingWindowInDays", pending_window_days}}));
  return internal::ParseScheduleKeyDeletionReply(reply);
}

}  // namespace lockout::awsclient
