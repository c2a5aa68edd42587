#include "src/localaws/kms_service.h"

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"
#include "src/localaws/kms_attestation.h"
#include "src/localaws/kms_ciphertext.h"
#include "src/localaws/kms_grants.h"
#include "src/localaws/kms_key_store.h"
#include "src/policy/policy.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {
namespace {

constexpr std::string_view kSymmetricDefault = "SYMMETRIC_DEFAULT";
constexpr std::string_view kEncryptDecrypt = "ENCRYPT_DECRYPT";
constexpr std::string_view kRsaesOaepSha256 = "RSAES_OAEP_SHA_256";
constexpr size_t kMaxAttestationDocumentSize = 262144;  // AttestationDocumentType max
constexpr size_t kMaxDescriptionSize = 8192;
constexpr size_t kMaxTagsPerKey = 50;
constexpr int64_t kMaxListLimit = 1000;

AwsError Error(std::string type, std::string message) {
  return AwsError{std::move(type), std::move(message), 400};
}

AwsError Serialization(std::string_view field, std::string_view want) {
  return Error("SerializationException",
               absl::StrCat("Field '", Absl(field), "' must be ", Absl(want)));
}

AwsError InvalidCiphertext() { return Error("InvalidCiphertextException", ""); }

double EpochSeconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// A checked optional enum-valued string field.
FieldOr<std::optional<std::string>> GetOptionalEnum(const Json& body, std::string_view field,
                                                    std::string_view wire_name,
                                                    absl::Span<const std::string_view> set) {
  auto r = GetOptionalString(body, field, 256);
  if (IsError(r)) return std::get<AwsError>(std::move(r));
  auto& v = std::get<0>(r);
  if (v && std::find(set.begin(), set.end(), *v) == set.end()) {
    std::string allowed;
    for (std::string_view s : set) absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", Absl(s));
    return ValidationError(absl::StrCat("1 validation error detected: Value '", *v, "' at '",
                                        Absl(wire_name),
                                        "' failed to satisfy constraint: Member must satisfy "
                                        "enum value set: [",
                                        allowed, "]"));
  }
  return std::move(v);
}

// Tags as KMS takes them: [{"TagKey": k, "TagValue": v}, ...].
FieldOr<std::optional<std::vector<std::pair<std::string, std::string>>>> GetOptionalTags(
    const Json& body, std::string_view field) {
  using Tags = std::vector<std::pair<std::string, std::string>>;
  auto it = body.find(std::string(field));
  if (it == body.end() || it->is_null()) return std::optional<Tags>();
  if (!it->is_array()) return Serialization(field, "a list of tags");
  Tags tags;
  for (const Json& t : *it) {
    if (!t.is_object()) return Serialization(field, "a list of tags");
    auto k = t.find("TagKey");
    auto v = t.find("TagValue");
    if (k == t.end() || v == t.end() || k->is_null() || v->is_null()) {
      return ValidationError(absl::StrCat("1 validation error detected: Value null at '",
                                          Absl(field),
                                          ".member.tagKey' failed to satisfy constraint: "
                                          "Member must not be null"));
    }
    if (!k->is_string() || !v->is_string()) return Serialization(field, "a list of tags");
    const std::string& key = k->get_ref<const std::string&>();
    const std::string& value = v->get_ref<const std::string&>();
    if (key.empty() || key.size() > 128 || value.size() > 256) {
      return ValidationError(
          "1 validation error detected: Value at 'tags.member' failed to satisfy constraint: "
          "TagKey must have length 1..128 and TagValue 0..256");
    }
    if (absl::StartsWith(key, "aws:")) {
      return Error("TagException", "Tag keys beginning with aws: are reserved for AWS use");
    }
    tags.emplace_back(key, value);
  }
  return std::optional<Tags>(std::move(tags));
}

// Description may be empty (DescriptionType is 0..8192), unlike most strings.
FieldOr<std::optional<std::string>> GetOptionalDescription(const Json& body) {
  auto it = body.find("Description");
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Serialization("Description", "a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxDescriptionSize) {
    return ValidationError(
        "1 validation error detected: Value at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 8192");
  }
  return std::optional<std::string>(s);
}

// The encryption context condition keys (kms:EncryptionContext:<k>, kms:EncryptionContextKeys).
void AddContextKeys(const EncryptionContext& context, policy::ConditionKeys& keys) {
  for (const auto& [k, v] : context) {
    keys.Set(absl::StrCat("kms:EncryptionContext:", k), v);
    keys.Add("kms:EncryptionContextKeys", k);
  }
}

// One page of a name-ordered list. Marker = the name of the first item of the next page.
template <typename T>
Json Page(const std::vector<T>& items, const std::function<std::string(const T&)>& name,
          const std::function<Json(const T&)>& render, std::optional<std::string> marker,
          size_t limit, std::string_view list_field) {
  Json list = Json::array();
  auto it = items.begin();
  if (marker) {
    it = std::lower_bound(items.begin(), items.end(), *marker,
                          [&](const T& item, const std::string& m) { return name(item) < m; });
  }
  for (; it != items.end() && list.size() < limit; ++it) list.push_back(render(*it));
  Json out = {{std::string(list_field), std::move(list)}, {"Truncated", it != items.end()}};
  if (it != items.end()) out["NextMarker"] = name(*it);
  return out;
}

// What a grant on the key may allow for one request: the grant operation ("Decrypt",
// "ReEncryptFrom", ...), the request's encryption context for the operations that take one
// (nullptr otherwise), and an optional extra test (CreateGrant: the new grant is narrower).
struct GrantUse {
  GrantUse() = default;
  GrantUse(std::string_view op,  // NOLINT(google-explicit-constructor)
           const EncryptionContext* ctx = nullptr,
           std::function<bool(const KmsGrant&)> extra = nullptr)
      : operation(op), context(ctx), also(std::move(extra)) {}
  std::string_view operation;  // empty: grants do not apply
  const EncryptionContext* context = nullptr;
  std::function<bool(const KmsGrant&)> also;
};

}  // namespace

struct KmsService::Impl {
  Impl(KmsOptions o, IdentityStore& id, const Clock& c, std::unique_ptr<KmsKeyStore> s,
       policy::Policy iam_only)
      : options(std::move(o)),
        identity(id),
        clock(c),
        account(id.options().account),
        region(id.options().region),
        iam_only_policy(std::move(iam_only)),
        store(std::move(s)) {}

  const KmsOptions options;
  IdentityStore& identity;
  const Clock& clock;
  const std::string account;
  const std::string region;
  // For operations with no key (CreateKey, ListKeys, ListAliases, GenerateRandom): a policy
  // that delegates the account to IAM, so the caller's identity policies alone decide.
  const policy::Policy iam_only_policy;

  mutable absl::Mutex mu;
  std::unique_ptr<KmsKeyStore> store ABSL_GUARDED_BY(mu);

  // ---- naming ----
  std::string KeyArn(std::string_view id) const {
    return absl::StrCat("arn:aws:kms:", region, ":", account, ":key/", Absl(id));
  }
  std::string AliasArn(std::string_view name) const {
    return absl::StrCat("arn:aws:kms:", region, ":", account, ":", Absl(name));
  }
  int64_t NowMs() const { return absl::ToUnixMillis(clock.Now()); }

  // ---- key resolution ----
  // Resolves a KeyId parameter (key id, key ARN and, when `allow_alias`, alias name or alias
  // ARN) to the key's id. NotFoundException as AWS words it.
  FieldOr<std::string> ResolveKeyId(const std::string& input, bool allow_alias) const {
    std::string_view resource = input;
    if (absl::StartsWith(input, "arn:")) {
      std::array<std::string_view, 6> parts;
      if (!policy::SplitArn(input, parts) || parts[2] != "kms") {
        return Error("NotFoundException", absl::StrCat("Invalid arn ", input));
      }
      if (parts[1] != "aws" || parts[3] != region || parts[4] != account) {
        return Error(
            "NotFoundException",
            absl::StrCat(absl::StartsWith(Absl(parts[5]), "alias/") ? "Alias " : "Key '", input,
                         absl::StartsWith(Absl(parts[5]), "alias/") ? " is not found."
                                                                    : "' does not exist"));
      }
      resource = parts[5];
      if (absl::StartsWith(Absl(resource), "key/")) {
        resource.remove_prefix(4);
        if (!IsKmsKeyId(resource)) {
          return Error("NotFoundException", absl::StrCat("Invalid keyId ", Absl(resource)));
        }
      } else if (!absl::StartsWith(Absl(resource), "alias/")) {
        return Error("NotFoundException", absl::StrCat("Invalid arn ", input));
      }
    }
    if (absl::StartsWith(Absl(resource), "alias/")) {
      if (!allow_alias) {
        return Error("NotFoundException", absl::StrCat("Invalid keyId ", input));
      }
      std::optional<KmsAlias> alias;
      {
        absl::MutexLock lock(&mu);
        alias = store->FindAlias(std::string(resource));
      }
      if (!alias) {
        return Error("NotFoundException",
                     absl::StrCat("Alias ", AliasArn(resource), " is not found."));
      }
      return alias->target_key_id;
    }
    if (!IsKmsKeyId(resource)) {
      return Error("NotFoundException", absl::StrCat("Invalid keyId ", Absl(resource)));
    }
    std::string id = absl::AsciiStrToLower(Absl(resource));
    absl::MutexLock lock(&mu);
    if (store->FindKey(id) == nullptr) {
      return Error("NotFoundException", absl::StrCat("Key '", KeyArn(id), "' does not exist"));
    }
    return id;
  }

  std::shared_ptr<const KmsKey> Find(const std::string& id) const {
    absl::MutexLock lock(&mu);
    return store->FindKey(id);
  }

  FieldOr<std::shared_ptr<const KmsKey>> ResolveKey(const std::string& input,
                                                    bool allow_alias) const {
    AWS_ASSIGN_OR_RETURN(std::string id, ResolveKeyId(input, allow_alias));
    std::shared_ptr<const KmsKey> key = Find(id);
    if (key == nullptr) {
      return Error("NotFoundException", absl::StrCat("Key '", KeyArn(id), "' does not exist"));
    }
    return key;
  }

  // ---- key state ----
  // Cryptographic operations need an Enabled key.
  std::optional<AwsError> CheckUsable(const KmsKey& key) const {
    if (key.state == KmsKeyState::kDisabled) {
      return Error("DisabledException", absl::StrCat(KeyArn(key.id), " is disabled."));
    }
    if (key.state == KmsKeyState::kPendingDeletion) {
      return Error("KMSInvalidStateException",
                   absl::StrCat(KeyArn(key.id), " is pending deletion."));
    }
    return std::nullopt;
  }
  // Management operations that AWS refuses while a key is pending deletion.
  std::optional<AwsError> CheckNotPendingDeletion(const KmsKey& key) const {
    if (key.state == KmsKeyState::kPendingDeletion) {
      return Error("KMSInvalidStateException",
                   absl::StrCat(KeyArn(key.id), " is pending deletion."));
    }
    return std::nullopt;
  }

  // ---- authorisation ----
  policy::RequestContext Context(const CallContext& call, std::string action,
                                 std::string resource) const {
    policy::RequestContext rc;
    rc.principal = call.caller;
    rc.action = std::move(action);
    rc.resource = std::move(resource);
    rc.identity_policies = identity.IdentityPolicies(call.caller);
    return rc;
  }

  // The first grant on `key` that allows `rc` for `use` (kms_grants.h), or nullopt. A grant to
  // the caller's account delegates: the caller's identity policies must allow `rc` too.
  std::optional<KmsGrant> FindAllowingGrant(const KmsKey& key, const policy::RequestContext& rc,
                                            const GrantUse& use) const {
    if (use.operation.empty()) return std::nullopt;
    absl::MutexLock lock(&mu);
    return store->FindGrantWhere(key.id, [&](const KmsGrant& g) {
      if (std::find(g.operations.begin(), g.operations.end(), use.operation) ==
          g.operations.end()) {
        return false;
      }
      GranteeMatch match = MatchGrantee(g.grantee_principal, rc.principal);
      if (match == GranteeMatch::kNone || !KmsGrantConstraintAllows(g, use.context)) return false;
      if (use.also && !use.also(g)) return false;
      return match == GranteeMatch::kDirect || policy::Evaluate(iam_only_policy, rc).allowed();
    });
  }

  // Decides `rc` against `key` (or, when null, the caller's identity policies alone) and logs
  // the decision. `attestation` describes the Recipient for the log ("none", "verified", or
  // the failure reason). When the policies give an implicit deny (never an explicit one), a
  // grant on the key allowing `grant` decides instead. Returns AccessDeniedException in AWS's
  // words when not allowed.
  std::optional<AwsError> Authorize(const CallContext& call, std::string_view operation,
                                    const KmsKey* key, const policy::RequestContext& rc,
                                    std::string_view attestation,
                                    const GrantUse& grant = GrantUse{}) const {
    const policy::Policy& policy = key != nullptr ? *key->policy : iam_only_policy;
    policy::Decision d = policy::Evaluate(policy, rc);
    std::string grant_id;
    if (d.outcome == policy::Outcome::kImplicitDeny && key != nullptr) {
      if (std::optional<KmsGrant> g = FindAllowingGrant(*key, rc, grant)) {
        d.outcome = policy::Outcome::kAllow;
        d.reason = "a grant allows it";
        grant_id = g->id;
      }
    }
    LogInfo("kms_authorization",
            {{"request_id", call.request_id},
             {"operation", std::string(operation)},
             {"principal", call.caller.arn},
             {"resource", rc.resource},
             {"action", rc.action},
             {"allowed", d.allowed()},
             {"outcome", d.outcome == policy::Outcome::kAllow          ? "allow"
                         : d.outcome == policy::Outcome::kExplicitDeny ? "explicit_deny"
                                                                       : "implicit_deny"},
             {"sid", d.sid},
             {"identity_sid", d.identity_sid},
             {"grant_id", grant_id},
             {"reason", d.reason},
             {"attestation", std::string(attestation)}});
    if (d.allowed()) return std::nullopt;
    std::string why;
    if (d.outcome == policy::Outcome::kExplicitDeny) {
      why = d.source == policy::DecisionSource::kIdentityPolicy
                ? "with an explicit deny in an identity-based policy"
                : "with an explicit deny in a resource-based policy";
    } else if (key == nullptr || d.source == policy::DecisionSource::kIdentityPolicy) {
      why = absl::StrCat("because no identity-based policy allows the ", rc.action, " action");
    } else {
      why = absl::StrCat("because no resource-based policy allows the ", rc.action, " action");
    }
    return AccessDenied(absl::StrCat("User: ", call.caller.arn, " is not authorized to perform: ",
                                     rc.action, " on resource: ", rc.resource, " ", why));
  }

  // Checks an optional GrantTokens parameter (GrantTokenList: at most 10 tokens of 1..8192
  // characters). Every token must be one local-aws issues, else InvalidGrantTokenException.
  // Tokens are not needed for a grant to apply (kms_grants.h), so they are only validated.
  static std::optional<AwsError> CheckGrantTokens(const Json& body) {
    auto it = body.find("GrantTokens");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_array()) return Serialization("GrantTokens", "a list of strings");
    if (it->size() > 10) {
      return ValidationError(
          "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: "
          "Member must have length less than or equal to 10");
    }
    for (const Json& t : *it) {
      if (!t.is_string()) return Serialization("GrantTokens", "a list of strings");
      const std::string& token = t.get_ref<const std::string&>();
      if (token.empty() || token.size() > 8192) {
        return ValidationError(
            "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: "
            "Member must have length between 1 and 8192");
      }
      if (!KmsGrantIdFromToken(token)) {
        return Error("InvalidGrantTokenException", "Invalid grant token");
      }
    }
    return std::nullopt;
  }

  // ---- Recipient ----
  struct Recipient {
    RecipientAttestation check;
  };

  // Parses and checks an optional Recipient parameter.
  FieldOr<std::optional<Recipient>> GetRecipient(const Json& body) const {
    auto it = body.find("Recipient");
    if (it == body.end() || it->is_null()) return std::optional<Recipient>();
    if (!it->is_object()) return Serialization("Recipient", "a structure");
    AWS_ASSIGN_OR_RETURN(std::optional<std::string> algorithm,
                         GetOptionalEnum(*it, "KeyEncryptionAlgorithm",
                                         "recipient.keyEncryptionAlgorithm", {kRsaesOaepSha256}));
    (void)algorithm;  // the only value; absent means the same
    AWS_ASSIGN_OR_RETURN(Bytes document,
                         GetBlob(*it, "AttestationDocument", kMaxAttestationDocumentSize));
    Recipient r;
    r.check = CheckRecipientAttestation(document, options.trusted_attestation_roots, clock.Now(),
                                        options.attestation_max_age);
    if (!r.check.verified) {
      LogInfo("kms_recipient_rejected", {{"reason", r.check.failure},
                                         {"detail", r.check.failure_detail},
                                         {"document_bytes", document.size()}});
    }
    return std::optional<Recipient>(std::move(r));
  }

  static std::string AttestationLabel(const std::optional<Recipient>& r) {
    if (!r) return "none";
    if (r->check.verified) return "verified";
    return absl::StrCat("invalid:", r->check.failure);
  }

  // The decided order for requests with a Recipient (kms_service.h): authorise (attestation
  // keys only from a trusted document) -> refuse an untrusted document -> require an RSA
  // public key in it. Returns the recipient's public key, or null without a Recipient.
  FieldOr<crypto::EvpPkeyPtr> AuthorizeWithRecipient(const CallContext& call,
                                                     std::string_view operation, const KmsKey* key,
                                                     policy::RequestContext rc,
                                                     const std::optional<Recipient>& recipient,
                                                     const GrantUse& grant = GrantUse{}) const {
    if (recipient && recipient->check.verified) {
      AddAttestationConditionKeys(recipient->check.verified->document, rc.keys);
    }
    if (auto denied = Authorize(call, operation, key, rc, AttestationLabel(recipient), grant)) {
      return *std::move(denied);
    }
    if (!recipient) return crypto::EvpPkeyPtr();
    if (!recipient->check.verified) {
      return ValidationError(
          "The attestation document in the Recipient parameter is not valid: it does not "
          "verify against a trusted root or is not fresh");
    }
    const auto& public_key = recipient->check.verified->document.public_key;
    if (!public_key) {
      return ValidationError(
          "The attestation document in the Recipient parameter has no "
          "public key");
    }
    auto pkey = crypto::RsaPublicKeyFromSpkiDer(*public_key);
    if (!pkey.ok()) {
      return ValidationError(
          "The public key in the attestation document must be an RSA "
          "key of 2048 to 4096 bits (DER SubjectPublicKeyInfo)");
    }
    return *std::move(pkey);
  }

  // The response field for `secret`: CiphertextForRecipient (CMS envelope) when `recipient_key`
  // is set, Plaintext otherwise.
  std::optional<AwsError> PutSecretField(Json& out, const crypto::EvpPkeyPtr& recipient_key,
                                         const SecretBytes& secret) const {
    if (recipient_key) {
      auto envelope = crypto::BuildKmsEnvelope(recipient_key.get(), secret.Reveal());
      if (!envelope.ok()) {
        LogError("kms_envelope_failed", {{"error", std::string(envelope.status().message())}});
        return InternalFailure("KMS could not build the envelope for the recipient");
      }
      out["CiphertextForRecipient"] = Base64Encode(*envelope);
    } else {
      out["Plaintext"] = Base64Encode(secret.Reveal());
    }
    return std::nullopt;
  }

  // ---- rendering ----
  Json KeyMetadata(const KmsKey& key) const {
    Json m = {{"AWSAccountId", account},
              {"KeyId", key.id},
              {"Arn", KeyArn(key.id)},
              {"CreationDate", EpochSeconds(key.creation_ms)},
              {"Enabled", key.state == KmsKeyState::kEnabled},
              {"Description", key.description},
              {"KeyUsage", kEncryptDecrypt},
              {"KeyState", KmsKeyStateName(key.state)},
              {"Origin", "AWS_KMS"},
              {"KeyManager", "CUSTOMER"},
              {"CustomerMasterKeySpec", kSymmetricDefault},
              {"KeySpec", kSymmetricDefault},
              {"EncryptionAlgorithms", Json::array({kSymmetricDefault})},
              {"MultiRegion", false}};
    if (key.state == KmsKeyState::kPendingDeletion && key.deletion_ms) {
      m["DeletionDate"] = EpochSeconds(*key.deletion_ms);
      m["PendingDeletionWindowInDays"] = key.pending_window_days;
    }
    return m;
  }

  // Persists a changed copy of the key with id `id`. `mutate` may refuse with an AwsError.
  // Runs under the lock so concurrent changes to one key serialise and none is lost.
  FieldOr<std::shared_ptr<const KmsKey>> UpdateKey(
      const std::string& id, const std::function<std::optional<AwsError>(KmsKey&)>& mutate) {
    absl::MutexLock lock(&mu);
    std::shared_ptr<const KmsKey> current = store->FindKey(id);
    if (current == nullptr) {
      return Error("NotFoundException", absl::StrCat("Key '", KeyArn(id), "' does not exist"));
    }
    KmsKey next = *current;
    if (auto refused = mutate(next)) return *std::move(refused);
    absl::Status st = store->PutKey(std::move(next));
    if (!st.ok()) {
      LogError("kms_persist_failed", {{"key_id", id}, {"error", std::string(st.message())}});
      return Error("KMSInternalException", "The request failed to persist; try again");
    }
    return store->FindKey(id);
  }

  // Common input of Encrypt/GenerateDataKey*: encryption context and an optional algorithm.
  static std::optional<AwsError> CheckAlgorithm(const std::optional<std::string>& algorithm) {
    if (algorithm && *algorithm != kSymmetricDefault) {
      return Error("InvalidKeyUsageException",
                   absl::StrCat("The encryption algorithm ", *algorithm,
                                " is not compatible with a SYMMETRIC_DEFAULT key"));
    }
    return std::nullopt;
  }

  static FieldOr<std::optional<std::string>> GetAlgorithm(const Json& body, std::string_view field,
                                                          std::string_view wire) {
    return GetOptionalEnum(
        body, field, wire,
        {"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"});
  }

  static FieldOr<bool> GetDryRun(const Json& body) {
    AWS_ASSIGN_OR_RETURN(std::optional<bool> dry, GetOptionalBool(body, "DryRun"));
    return dry.value_or(false);
  }

  static AwsError DryRunError() {
    return Error("DryRunOperationException",
                 "The request would have succeeded, but the DryRun option is set.");
  }

  // ---- operations ----
  AwsResult CreateKey(const Json& body, const CallContext& call);
  AwsResult DescribeKey(const Json& body, const CallContext& call);
  AwsResult ListKeys(const Json& body, const CallContext& call);
  AwsResult CreateAlias(const Json& body, const CallContext& call);
  AwsResult ListAliases(const Json& body, const CallContext& call);
  AwsResult Encrypt(const Json& body, const CallContext& call);
  AwsResult Decrypt(const Json& body, const CallContext& call);
  AwsResult ReEncrypt(const Json& body, const CallContext& call);
  AwsResult GenerateDataKey(const Json& body, const CallContext& call, bool with_plaintext);
  AwsResult GenerateRandom(const Json& body, const CallContext& call);
  AwsResult GetKeyPolicy(const Json& body, const CallContext& call);
  AwsResult PutKeyPolicy(const Json& body, const CallContext& call);
  AwsResult SetEnabled(const Json& body, const CallContext& call, bool enable);
  AwsResult ScheduleKeyDeletion(const Json& body, const CallContext& call);
  AwsResult CancelKeyDeletion(const Json& body, const CallContext& call);
  AwsResult TagResource(const Json& body, const CallContext& call);
  AwsResult ListResourceTags(const Json& body, const CallContext& call);
  AwsResult UpdateAlias(const Json& body, const CallContext& call);
  AwsResult DeleteAlias(const Json& body, const CallContext& call);
  AwsResult CreateGrant(const Json& body, const CallContext& call);
  AwsResult ListGrants(const Json& body, const CallContext& call);
  AwsResult ListRetirableGrants(const Json& body, const CallContext& call);
  AwsResult RevokeGrant(const Json& body, const CallContext& call);
  AwsResult RetireGrant(const Json& body, const CallContext& call);

  // AliasName checks shared by CreateAlias/UpdateAlias/DeleteAlias (ValidationException,
  // InvalidAliasNameException, NotAuthorizedException for alias/aws/).
  static std::optional<AwsError> CheckAliasName(const std::string& name);
  // TargetKeyId must name a key, not an alias (ValidationException).
  static std::optional<AwsError> CheckAliasTarget(const std::string& target);
  // The key alias `name` points at, or NotFoundException in AWS's words.
  FieldOr<std::shared_ptr<const KmsKey>> AliasTarget(const std::string& name) const;
  // `action` (kms:CreateAlias/UpdateAlias/DeleteAlias) on the alias (identity policies), then on
  // each key (key policies), as AWS requires for alias operations.
  std::optional<AwsError> AuthorizeAlias(const CallContext& call, std::string_view operation,
                                         const std::string& name,
                                         std::initializer_list<const KmsKey*> keys) const;
  // Under `mu`: ConflictException unless alias `name` still points at `key_id` (a concurrent
  // change after the authorisation would otherwise be acted on with a stale decision).
  std::optional<AwsError> CheckAliasUnchanged(const std::string& name,
                                              const std::string& key_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Deletes grant `grant_id` of key `key_id` (NotFoundException if gone) and logs `event`.
  AwsResult DeleteGrant(const CallContext& call, const std::string& key_id,
                        const std::string& grant_id, std::string_view event);
  // ListGrants / ListRetirableGrants entry.
  Json GrantEntry(const KmsGrant& g) const;
  // Persists a change to the store under the lock; KMSInternalException when it fails.
  std::optional<AwsError> Persist(std::string_view what, const std::function<absl::Status()>& put);

  // Parses a key policy for CreateKey/PutKeyPolicy and runs the lock-out safety check.
  FieldOr<std::shared_ptr<const policy::Policy>> NewPolicy(const std::string& text,
                                                           const CallContext& call,
                                                           const std::string& key_arn,
                                                           bool bypass) const {
    auto policy = policy::Policy::Parse(text, policy::PolicyKind::kKeyPolicy);
    if (!policy.ok()) {
      return Error("MalformedPolicyDocumentException", std::string(policy.status().message()));
    }
    if (!bypass) {
      absl::Status safe =
          policy::CheckPolicyLockoutSafety(*policy, Context(call, "kms:PutKeyPolicy", key_arn));
      if (!safe.ok()) {
        return Error("MalformedPolicyDocumentException",
                     std::string(policy::kPolicyLockoutMessage));
      }
    }
    return std::make_shared<const policy::Policy>(*std::move(policy));
  }
};

AwsResult KmsService::Impl::CreateKey(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> policy_text,
                       GetOptionalString(body, "Policy", 131072));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> description, GetOptionalDescription(body));
  AWS_ASSIGN_OR_RETURN(
      std::optional<std::string> usage,
      GetOptionalEnum(body, "KeyUsage", "keyUsage",
                      {"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}));
  static constexpr std::string_view kSpecs[] = {"RSA_2048",
                                                "RSA_3072",
                                                "RSA_4096",
                                                "ECC_NIST_P256",
                                                "ECC_NIST_P384",
                                                "ECC_NIST_P521",
                                                "ECC_SECG_P256K1",
                                                "SYMMETRIC_DEFAULT",
                                                "HMAC_224",
                                                "HMAC_256",
                                                "HMAC_384",
                                                "HMAC_512",
                                                "SM2",
                                                "ML_DSA_44",
                                                "ML_DSA_65",
                                                "ML_DSA_87",
                                                "ECC_NIST_EDWARDS25519"};
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> key_spec,
                       GetOptionalEnum(body, "KeySpec", "keySpec", kSpecs));
  AWS_ASSIGN_OR_RETURN(
      std::optional<std::string> cmk_spec,
      GetOptionalEnum(body, "CustomerMasterKeySpec", "customerMasterKeySpec", kSpecs));
  AWS_ASSIGN_OR_RETURN(
      std::optional<std::string> origin,
      GetOptionalEnum(body, "Origin", "origin",
                      {"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> custom_store,
                       GetOptionalString(body, "CustomKeyStoreId", 64));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> xks_key, GetOptionalString(body, "XksKeyId"));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> multi_region, GetOptionalBool(body, "MultiRegion"));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> bypass,
                       GetOptionalBool(body, "BypassPolicyLockoutSafetyCheck"));
  AWS_ASSIGN_OR_RETURN(auto tags, GetOptionalTags(body, "Tags"));

  if (key_spec && cmk_spec) {
    return ValidationError(
        "You cannot specify KeySpec and CustomerMasterKeySpec in the same "
        "request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec "
        "only.");
  }
  std::string spec = key_spec ? *key_spec : cmk_spec.value_or(std::string(kSymmetricDefault));
  if (spec != kSymmetricDefault ||
      usage.value_or(std::string(kEncryptDecrypt)) != kEncryptDecrypt) {
    return Error("UnsupportedOperationException",
                 "lockout local-aws supports only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys");
  }
  if (origin.value_or("AWS_KMS") != "AWS_KMS" || custom_store || xks_key ||
      multi_region.value_or(false)) {
    return Error("UnsupportedOperationException",
                 "lockout local-aws supports only single-Region AWS_KMS keys");
  }
  if (tags && tags->size() > kMaxTagsPerKey) {
    return Error("TagException", "A key can have at most 50 tags");
  }

  policy::RequestContext rc = Context(call, "kms:CreateKey", "*");
  if (auto denied = Authorize(call, "CreateKey", nullptr, rc, "none")) return *denied;

  KmsKey key;
  key.id = NewKmsKeyId();
  const std::string arn = KeyArn(key.id);
  std::string text;
  if (policy_text) {
    text = *policy_text;
  } else {
    auto def = policy::DefaultKeyPolicy(account);
    if (!def.ok()) return InternalFailure("cannot build the default key policy");
    text = *def;
  }
  AWS_ASSIGN_OR_RETURN(key.policy, NewPolicy(text, call, arn, bypass.value_or(false)));
  key.creation_ms = NowMs();
  key.description = description.value_or("");
  if (tags) {
    for (auto& [k, v] : *tags) key.tags[k] = v;
  }
  {
    SecretBytes material(kKmsKeyMaterialSize);
    Bytes random = crypto::RandomBytes(kKmsKeyMaterialSize);
    std::copy(random.begin(), random.end(), material.RevealMutable().begin());
    WipeBytes(random);
    key.material = std::make_shared<const SecretBytes>(std::move(material));
  }
  const std::string id = key.id;
  std::shared_ptr<const KmsKey> stored;
  {
    absl::MutexLock lock(&mu);
    absl::Status st = store->PutKey(std::move(key));
    if (!st.ok()) {
      LogError("kms_persist_failed", {{"key_id", id}, {"error", std::string(st.message())}});
      return Error("KMSInternalException", "The request failed to persist; try again");
    }
    stored = store->FindKey(id);
  }
  LogInfo("kms_key_created", {{"request_id", call.request_id}, {"key_id", id}});
  return Json{{"KeyMetadata", KeyMetadata(*stored)}};
}

AwsResult KmsService::Impl::DescribeKey(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  if (auto bad = CheckGrantTokens(body)) return *bad;
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/true));
  policy::RequestContext rc = Context(call, "kms:DescribeKey", KeyArn(key->id));
  if (auto denied = Authorize(call, "DescribeKey", key.get(), rc, "none", {"DescribeKey"})) {
    return *denied;
  }
  return Json{{"KeyMetadata", KeyMetadata(*key)}};
}

AwsResult KmsService::Impl::ListKeys(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> limit,
                       GetOptionalInt(body, "Limit", 1, kMaxListLimit));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> marker, GetOptionalString(body, "Marker", 1024));
  policy::RequestContext rc = Context(call, "kms:ListKeys", "*");
  if (auto denied = Authorize(call, "ListKeys", nullptr, rc, "none")) return *denied;
  std::vector<std::shared_ptr<const KmsKey>> keys;
  {
    absl::MutexLock lock(&mu);
    keys = store->Keys();
  }
  using K = std::shared_ptr<const KmsKey>;
  return Page<K>(
      keys, [](const K& k) { return k->id; },
      [this](const K& k) {
        return Json{{"KeyId", k->id}, {"KeyArn", KeyArn(k->id)}};
      },
      marker, static_cast<size_t>(limit.value_or(100)), "Keys");
}

std::optional<AwsError> KmsService::Impl::CheckAliasName(const std::string& name) {
  if (!absl::StartsWith(name, "alias/")) {
    return ValidationError(
        "Alias must start with the prefix \"alias/\". Please see "
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != ':') {
      return ValidationError(absl::StrCat(
          "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: "
          "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"));
    }
  }
  if (name.find(':') != std::string::npos) {
    return ValidationError(absl::StrCat(name, " contains invalid characters for an alias"));
  }
  if (name == "alias/") return Error("InvalidAliasNameException", "Alias name must not be empty");
  if (absl::StartsWith(name, "alias/aws/")) {
    return Error("NotAuthorizedException",
                 "Aliases that begin with alias/aws/ are reserved for AWS managed keys");
  }
  return std::nullopt;
}

std::optional<AwsError> KmsService::Impl::CheckAliasTarget(const std::string& target) {
  if (absl::StartsWith(target, "alias/") ||
      (absl::StartsWith(target, "arn:") && target.find(":alias/") != std::string::npos)) {
    return ValidationError("Aliases must refer to keys. Not aliases");
  }
  return std::nullopt;
}

AwsResult KmsService::Impl::CreateAlias(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string name, GetString(body, "AliasName", 256));
  AWS_ASSIGN_OR_RETURN(std::string target, GetString(body, "TargetKeyId", 2048));
  if (auto bad = CheckAliasName(name)) return *bad;
  if (auto bad = CheckAliasTarget(target)) return *bad;
  AWS_ASSIGN_OR_RETURN(std::string id, ResolveKeyId(target, /*allow_alias=*/false));
  std::shared_ptr<const KmsKey> key = Find(id);
  if (key == nullptr) return Error("NotFoundException", "Key does not exist");

  if (auto denied = AuthorizeAlias(call, "CreateAlias", name, {key.get()})) return *denied;
  if (auto bad = CheckNotPendingDeletion(*key)) return *bad;

  absl::MutexLock lock(&mu);
  if (store->FindAlias(name)) {
    return Error("AlreadyExistsException",
                 absl::StrCat("An alias with the name ", AliasArn(name), " already exists"));
  }
  KmsAlias alias{name, id, NowMs(), NowMs()};
  absl::Status st = store->PutAlias(std::move(alias));
  if (!st.ok()) {
    LogError("kms_persist_failed", {{"alias", name}, {"error", std::string(st.message())}});
    return Error("KMSInternalException", "The request failed to persist; try again");
  }
  return Json::object();
}

AwsResult KmsService::Impl::ListAliases(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> key_filter, GetOptionalString(body, "KeyId"));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> limit,
                       GetOptionalInt(body, "Limit", 1, kMaxListLimit));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> marker, GetOptionalString(body, "Marker", 1024));
  std::optional<std::string> filter_id;
  if (key_filter) {
    AWS_ASSIGN_OR_RETURN(filter_id, ResolveKeyId(*key_filter, /*allow_alias=*/false));
  }
  policy::RequestContext rc = Context(call, "kms:ListAliases", "*");
  if (auto denied = Authorize(call, "ListAliases", nullptr, rc, "none")) return *denied;
  std::vector<KmsAlias> aliases;
  {
    absl::MutexLock lock(&mu);
    aliases = store->Aliases();
  }
  if (filter_id) {
    std::erase_if(aliases, [&](const KmsAlias& a) { return a.target_key_id != *filter_id; });
  }
  return Page<KmsAlias>(
      aliases, [](const KmsAlias& a) { return a.name; },
      [this](const KmsAlias& a) {
        return Json{{"AliasName", a.name},
                    {"AliasArn", AliasArn(a.name)},
                    {"TargetKeyId", a.target_key_id},
                    {"CreationDate", EpochSeconds(a.creation_ms)},
                    {"LastUpdatedDate", EpochSeconds(a.updated_ms)}};
      },
      marker, static_cast<size_t>(limit.value_or(50)), "Aliases");
}

AwsResult KmsService::Impl::Encrypt(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(Bytes plaintext, GetBlob(body, "Plaintext", kMaxKmsPlaintextSize));
  SecretBytes secret = SecretBytes::CopyFrom(plaintext);
  WipeBytes(plaintext);
  AWS_ASSIGN_OR_RETURN(auto context, GetOptionalStringMap(body, "EncryptionContext"));
  AWS_ASSIGN_OR_RETURN(auto algorithm,
                       GetAlgorithm(body, "EncryptionAlgorithm", "encryptionAlgorithm"));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  const EncryptionContext ctx = context.value_or(EncryptionContext{});
  if (auto bad = CheckGrantTokens(body)) return *bad;

  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/true));
  policy::RequestContext rc = Context(call, "kms:Encrypt", KeyArn(key->id));
  AddContextKeys(ctx, rc.keys);
  rc.keys.Set("kms:EncryptionAlgorithm", algorithm.value_or(std::string(kSymmetricDefault)));
  if (auto denied = Authorize(call, "Encrypt", key.get(), rc, "none", {"Encrypt", &ctx})) {
    return *denied;
  }
  if (auto bad = CheckUsable(*key)) return *bad;
  if (auto bad = CheckAlgorithm(algorithm)) return *bad;
  if (dry_run) return DryRunError();

  auto blob = SealKmsBlob(*key->material, key->id, secret.Reveal(), ctx);
  if (!blob.ok()) return InternalFailure("encryption failed");
  return Json{{"CiphertextBlob", Base64Encode(*blob)},
              {"KeyId", KeyArn(key->id)},
              {"EncryptionAlgorithm", kSymmetricDefault}};
}

AwsResult KmsService::Impl::Decrypt(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(Bytes blob, GetBlob(body, "CiphertextBlob", kMaxKmsCiphertextSize));
  AWS_ASSIGN_OR_RETURN(auto context, GetOptionalStringMap(body, "EncryptionContext"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> key_param, GetOptionalString(body, "KeyId"));
  AWS_ASSIGN_OR_RETURN(auto algorithm,
                       GetAlgorithm(body, "EncryptionAlgorithm", "encryptionAlgorithm"));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  AWS_ASSIGN_OR_RETURN(auto recipient, GetRecipient(body));
  const EncryptionContext ctx = context.value_or(EncryptionContext{});
  if (auto bad = CheckGrantTokens(body)) return *bad;

  auto parts = ParseKmsBlob(blob);
  if (!parts.ok()) {
    LogInfo("kms_invalid_ciphertext",
            {{"request_id", call.request_id}, {"detail", std::string(parts.status().message())}});
    return InvalidCiphertext();
  }
  const std::string blob_key_id = absl::AsciiStrToLower(parts->key_id);
  if (key_param) {
    AWS_ASSIGN_OR_RETURN(std::string id, ResolveKeyId(*key_param, /*allow_alias=*/true));
    if (id != blob_key_id) {
      return Error("IncorrectKeyException",
                   "The key ID in the request does not identify a KMS key that can perform "
                   "this operation.");
    }
  }
  std::shared_ptr<const KmsKey> key = Find(blob_key_id);
  if (key == nullptr) {
    LogInfo("kms_invalid_ciphertext",
            {{"request_id", call.request_id}, {"detail", "the blob names an unknown key"}});
    return InvalidCiphertext();
  }

  policy::RequestContext rc = Context(call, "kms:Decrypt", KeyArn(key->id));
  AddContextKeys(ctx, rc.keys);
  rc.keys.Set("kms:EncryptionAlgorithm", algorithm.value_or(std::string(kSymmetricDefault)));
  AWS_ASSIGN_OR_RETURN(crypto::EvpPkeyPtr recipient_key,
                       AuthorizeWithRecipient(call, "Decrypt", key.get(), std::move(rc), recipient,
                                              {"Decrypt", &ctx}));
  if (auto bad = CheckUsable(*key)) return *bad;
  if (auto bad = CheckAlgorithm(algorithm)) return *bad;
  if (dry_run) return DryRunError();

  auto plaintext = OpenKmsBlob(*key->material, *parts, ctx);
  if (!plaintext.ok()) {
    LogInfo("kms_invalid_ciphertext", {{"request_id", call.request_id},
                                       {"key_id", key->id},
                                       {"detail", std::string(plaintext.status().message())}});
    return InvalidCiphertext();
  }
  Json out = {{"KeyId", KeyArn(key->id)}, {"EncryptionAlgorithm", kSymmetricDefault}};
  if (auto err = PutSecretField(out, recipient_key, *plaintext)) return *err;
  return out;
}

AwsResult KmsService::Impl::ReEncrypt(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(Bytes blob, GetBlob(body, "CiphertextBlob", kMaxKmsCiphertextSize));
  AWS_ASSIGN_OR_RETURN(auto src_context, GetOptionalStringMap(body, "SourceEncryptionContext"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> src_param,
                       GetOptionalString(body, "SourceKeyId"));
  AWS_ASSIGN_OR_RETURN(auto dst_context,
                       GetOptionalStringMap(body, "DestinationEncryptionContext"));
  AWS_ASSIGN_OR_RETURN(auto src_algorithm, GetAlgorithm(body, "SourceEncryptionAlgorithm",
                                                        "sourceEncryptionAlgorithm"));
  AWS_ASSIGN_OR_RETURN(auto dst_algorithm, GetAlgorithm(body, "DestinationEncryptionAlgorithm",
                                                        "destinationEncryptionAlgorithm"));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  AWS_ASSIGN_OR_RETURN(std::string dst_key_input, GetString(body, "DestinationKeyId", 2048));
  const EncryptionContext src_ctx = src_context.value_or(EncryptionContext{});
  const EncryptionContext dst_ctx = dst_context.value_or(EncryptionContext{});
  if (auto bad = CheckGrantTokens(body)) return *bad;
  AWS_ASSIGN_OR_RETURN(auto dst_key, ResolveKey(dst_key_input, /*allow_alias=*/true));

  auto parts = ParseKmsBlob(blob);
  if (!parts.ok()) return InvalidCiphertext();
  const std::string src_id = absl::AsciiStrToLower(parts->key_id);
  if (src_param) {
    AWS_ASSIGN_OR_RETURN(std::string id, ResolveKeyId(*src_param, /*allow_alias=*/true));
    if (id != src_id) {
      return Error("IncorrectKeyException",
                   "The key ID in the request does not identify a KMS key that can perform "
                   "this operation.");
    }
  }
  std::shared_ptr<const KmsKey> src_key = Find(src_id);
  if (src_key == nullptr) return InvalidCiphertext();

  policy::RequestContext from = Context(call, "kms:ReEncryptFrom", KeyArn(src_id));
  AddContextKeys(src_ctx, from.keys);
  if (auto denied =
          Authorize(call, "ReEncrypt", src_key.get(), from, "none", {"ReEncryptFrom", &src_ctx})) {
    return *denied;
  }
  policy::RequestContext to = Context(call, "kms:ReEncryptTo", KeyArn(dst_key->id));
  AddContextKeys(dst_ctx, to.keys);
  if (auto denied =
          Authorize(call, "ReEncrypt", dst_key.get(), to, "none", {"ReEncryptTo", &dst_ctx})) {
    return *denied;
  }
  if (auto bad = CheckUsable(*src_key)) return *bad;
  if (auto bad = CheckUsable(*dst_key)) return *bad;
  if (auto bad = CheckAlgorithm(src_algorithm)) return *bad;
  if (auto bad = CheckAlgorithm(dst_algorithm)) return *bad;
  if (dry_run) return DryRunError();

  auto plaintext = OpenKmsBlob(*src_key->material, *parts, src_ctx);
  if (!plaintext.ok()) return InvalidCiphertext();
  auto sealed = SealKmsBlob(*dst_key->material, dst_key->id, plaintext->Reveal(), dst_ctx);
  if (!sealed.ok()) return InternalFailure("encryption failed");
  return Json{{"CiphertextBlob", Base64Encode(*sealed)},
              {"SourceKeyId", KeyArn(src_id)},
              {"KeyId", KeyArn(dst_key->id)},
              {"SourceEncryptionAlgorithm", kSymmetricDefault},
              {"DestinationEncryptionAlgorithm", kSymmetricDefault}};
}

AwsResult KmsService::Impl::GenerateDataKey(const Json& body, const CallContext& call,
                                            bool with_plaintext) {
  const std::string_view op =
      with_plaintext ? "GenerateDataKey" : "GenerateDataKeyWithoutPlaintext";
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(auto context, GetOptionalStringMap(body, "EncryptionContext"));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> number,
                       GetOptionalInt(body, "NumberOfBytes", 1, 1024));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> spec,
                       GetOptionalEnum(body, "KeySpec", "keySpec", {"AES_256", "AES_128"}));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  std::optional<Recipient> recipient;
  if (with_plaintext) {
    AWS_ASSIGN_OR_RETURN(recipient, GetRecipient(body));
  }
  if (number.has_value() == spec.has_value()) {
    return ValidationError("Please specify either number of bytes or key spec.");
  }
  const size_t size = number ? static_cast<size_t>(*number) : (*spec == "AES_256" ? 32 : 16);
  const EncryptionContext ctx = context.value_or(EncryptionContext{});
  if (auto bad = CheckGrantTokens(body)) return *bad;

  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/true));
  policy::RequestContext rc = Context(call, absl::StrCat("kms:", Absl(op)), KeyArn(key->id));
  AddContextKeys(ctx, rc.keys);
  AWS_ASSIGN_OR_RETURN(
      crypto::EvpPkeyPtr recipient_key,
      AuthorizeWithRecipient(call, op, key.get(), std::move(rc), recipient, {op, &ctx}));
  if (auto bad = CheckUsable(*key)) return *bad;
  if (dry_run) return DryRunError();

  SecretBytes data_key(size);
  {
    Bytes random = crypto::RandomBytes(size);
    std::copy(random.begin(), random.end(), data_key.RevealMutable().begin());
    WipeBytes(random);
  }
  auto blob = SealKmsBlob(*key->material, key->id, data_key.Reveal(), ctx);
  if (!blob.ok()) return InternalFailure("encryption failed");
  Json out = {{"CiphertextBlob", Base64Encode(*blob)}, {"KeyId", KeyArn(key->id)}};
  if (with_plaintext) {
    if (auto err = PutSecretField(out, recipient_key, data_key)) return *err;
  }
  return out;
}

AwsResult KmsService::Impl::GenerateRandom(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> number,
                       GetOptionalInt(body, "NumberOfBytes", 1, 1024));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> store_id,
                       GetOptionalString(body, "CustomKeyStoreId", 64));
  AWS_ASSIGN_OR_RETURN(auto recipient, GetRecipient(body));
  if (!number) {
    return ValidationError(
        "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy "
        "constraint: Member must not be null");
  }
  if (store_id) {
    return Error("CustomKeyStoreNotFoundException", "lockout local-aws has no custom key stores");
  }
  policy::RequestContext rc = Context(call, "kms:GenerateRandom", "*");
  AWS_ASSIGN_OR_RETURN(
      crypto::EvpPkeyPtr recipient_key,
      AuthorizeWithRecipient(call, "GenerateRandom", nullptr, std::move(rc), recipient));
  const auto size = static_cast<size_t>(*number);
  SecretBytes random(size);
  {
    Bytes r = crypto::RandomBytes(size);
    std::copy(r.begin(), r.end(), random.RevealMutable().begin());
    WipeBytes(r);
  }
  Json out = Json::object();
  if (auto err = PutSecretField(out, recipient_key, random)) return *err;
  return out;
}

AwsResult KmsService::Impl::GetKeyPolicy(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> name, GetOptionalString(body, "PolicyName", 128));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:GetKeyPolicy", KeyArn(key->id));
  if (auto denied = Authorize(call, "GetKeyPolicy", key.get(), rc, "none")) return *denied;
  if (name && *name != "default") return Error("NotFoundException", "No such policy exists");
  return Json{{"Policy", key->policy->text()}, {"PolicyName", "default"}};
}

AwsResult KmsService::Impl::PutKeyPolicy(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> name, GetOptionalString(body, "PolicyName", 128));
  AWS_ASSIGN_OR_RETURN(std::string text, GetString(body, "Policy", 131072));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> bypass,
                       GetOptionalBool(body, "BypassPolicyLockoutSafetyCheck"));
  if (name && *name != "default") {
    return ValidationError("The only valid PolicyName is \"default\"");
  }
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:PutKeyPolicy", KeyArn(key->id));
  if (auto denied = Authorize(call, "PutKeyPolicy", key.get(), rc, "none")) return *denied;
  AWS_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy,
                       NewPolicy(text, call, KeyArn(key->id), bypass.value_or(false)));
  AWS_ASSIGN_OR_RETURN(auto updated, UpdateKey(key->id, [&](KmsKey& k) -> std::optional<AwsError> {
                         k.policy = policy;
                         return std::nullopt;
                       }));
  (void)updated;
  LogInfo("kms_key_policy_replaced", {{"request_id", call.request_id},
                                      {"key_id", key->id},
                                      {"bypass_lockout_check", bypass.value_or(false)}});
  return Json::object();
}

AwsResult KmsService::Impl::SetEnabled(const Json& body, const CallContext& call, bool enable) {
  const std::string_view op = enable ? "EnableKey" : "DisableKey";
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, absl::StrCat("kms:", Absl(op)), KeyArn(key->id));
  if (auto denied = Authorize(call, op, key.get(), rc, "none")) return *denied;
  AWS_ASSIGN_OR_RETURN(auto updated, UpdateKey(key->id, [&](KmsKey& k) -> std::optional<AwsError> {
                         if (auto bad = CheckNotPendingDeletion(k)) return bad;
                         k.state = enable ? KmsKeyState::kEnabled : KmsKeyState::kDisabled;
                         return std::nullopt;
                       }));
  (void)updated;
  return Json::object();
}

AwsResult KmsService::Impl::ScheduleKeyDeletion(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> days,
                       GetOptionalInt(body, "PendingWindowInDays", 7, 30));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:ScheduleKeyDeletion", KeyArn(key->id));
  if (auto denied = Authorize(call, "ScheduleKeyDeletion", key.get(), rc, "none")) return *denied;
  const int window = static_cast<int>(days.value_or(30));
  const int64_t deletion_ms = absl::ToUnixMillis(clock.Now() + absl::Hours(24 * window));
  AWS_ASSIGN_OR_RETURN(auto updated, UpdateKey(key->id, [&](KmsKey& k) -> std::optional<AwsError> {
                         if (auto bad = CheckNotPendingDeletion(k)) return bad;
                         k.state = KmsKeyState::kPendingDeletion;
                         k.deletion_ms = deletion_ms;
                         k.pending_window_days = window;
                         return std::nullopt;
                       }));
  return Json{{"KeyId", KeyArn(updated->id)},
              {"DeletionDate", EpochSeconds(deletion_ms)},
              {"KeyState", KmsKeyStateName(updated->state)},
              {"PendingWindowInDays", window}};
}

AwsResult KmsService::Impl::CancelKeyDeletion(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:CancelKeyDeletion", KeyArn(key->id));
  if (auto denied = Authorize(call, "CancelKeyDeletion", key.get(), rc, "none")) return *denied;
  AWS_ASSIGN_OR_RETURN(auto updated, UpdateKey(key->id, [&](KmsKey& k) -> std::optional<AwsError> {
                         if (k.state != KmsKeyState::kPendingDeletion) {
                           return Error("KMSInvalidStateException",
                                        absl::StrCat(KeyArn(k.id), " is not pending deletion."));
                         }
                         // AWS: a key whose deletion is cancelled is Disabled.
                         k.state = KmsKeyState::kDisabled;
                         k.deletion_ms.reset();
                         k.pending_window_days = 0;
                         return std::nullopt;
                       }));
  return Json{{"KeyId", KeyArn(updated->id)}};
}

AwsResult KmsService::Impl::TagResource(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(auto tags, GetOptionalTags(body, "Tags"));
  if (!tags) {
    return ValidationError(
        "1 validation error detected: Value null at 'tags' failed to satisfy constraint: "
        "Member must not be null");
  }
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:TagResource", KeyArn(key->id));
  if (auto denied = Authorize(call, "TagResource", key.get(), rc, "none")) return *denied;
  AWS_ASSIGN_OR_RETURN(auto updated, UpdateKey(key->id, [&](KmsKey& k) -> std::optional<AwsError> {
                         if (auto bad = CheckNotPendingDeletion(k)) return bad;
                         for (const auto& [tk, tv] : *tags) k.tags[tk] = tv;
                         if (k.tags.size() > kMaxTagsPerKey) {
                           return Error("LimitExceededException", "A key can have at most 50 tags");
                         }
                         return std::nullopt;
                       }));
  (void)updated;
  return Json::object();
}

AwsResult KmsService::Impl::ListResourceTags(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, GetOptionalInt(body, "Limit", 1, 50));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> marker, GetOptionalString(body, "Marker", 1024));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:ListResourceTags", KeyArn(key->id));
  if (auto denied = Authorize(call, "ListResourceTags", key.get(), rc, "none")) return *denied;
  using Tag = std::pair<std::string, std::string>;
  std::vector<Tag> tags(key->tags.begin(), key->tags.end());
  return Page<Tag>(
      tags, [](const Tag& t) { return t.first; },
      [](const Tag& t) {
        return Json{{"TagKey", t.first}, {"TagValue", t.second}};
      },
      marker, static_cast<size_t>(limit.value_or(50)), "Tags");
}

std::optional<AwsError> KmsService::Impl::Persist(std::string_view what,
                                                  const std::function<absl::Status()>& put) {
  absl::Status st = put();
  if (st.ok()) return std::nullopt;
  LogError("kms_persist_failed",
           {{"what", std::string(what)}, {"error", std::string(st.message())}});
  return Error("KMSInternalException", "The request failed to persist; try again");
}

FieldOr<std::shared_ptr<const KmsKey>> KmsService::Impl::AliasTarget(
    const std::string& name) const {
  std::optional<KmsAlias> alias;
  {
    absl::MutexLock lock(&mu);
    alias = store->FindAlias(name);
  }
  if (!alias) {
    return Error("NotFoundException", absl::StrCat("Alias ", AliasArn(name), " is not found."));
  }
  std::shared_ptr<const KmsKey> key = Find(alias->target_key_id);
  if (key == nullptr) return InternalFailure("the alias names a missing key");
  return key;
}

std::optional<AwsError> KmsService::Impl::AuthorizeAlias(
    const CallContext& call, std::string_view operation, const std::string& name,
    std::initializer_list<const KmsKey*> keys) const {
  const std::string action = absl::StrCat("kms:", Absl(operation));
  if (auto denied =
          Authorize(call, operation, nullptr, Context(call, action, AliasArn(name)), "none")) {
    return denied;
  }
  for (const KmsKey* key : keys) {
    if (auto denied =
            Authorize(call, operation, key, Context(call, action, KeyArn(key->id)), "none")) {
      return denied;
    }
  }
  return std::nullopt;
}

std::optional<AwsError> KmsService::Impl::CheckAliasUnchanged(const std::string& name,
                                                              const std::string& key_id) const {
  std::optional<KmsAlias> current = store->FindAlias(name);
  if (current && current->target_key_id == key_id) return std::nullopt;
  return Error("ConflictException", "The alias changed during the request; try again");
}

AwsResult KmsService::Impl::UpdateAlias(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string name, GetString(body, "AliasName", 256));
  AWS_ASSIGN_OR_RETURN(std::string target, GetString(body, "TargetKeyId", 2048));
  if (auto bad = CheckAliasName(name)) return *bad;
  if (auto bad = CheckAliasTarget(target)) return *bad;
  AWS_ASSIGN_OR_RETURN(auto new_key, ResolveKey(target, /*allow_alias=*/false));
  AWS_ASSIGN_OR_RETURN(auto old_key, AliasTarget(name));
  // AWS: on the alias, on the key it points at now and on the new key.
  if (auto denied = AuthorizeAlias(call, "UpdateAlias", name, {old_key.get(), new_key.get()})) {
    return *denied;
  }
  if (auto bad = CheckNotPendingDeletion(*new_key)) return *bad;

  absl::MutexLock lock(&mu);
  if (auto changed = CheckAliasUnchanged(name, old_key->id)) return *changed;
  KmsAlias alias = *store->FindAlias(name);
  alias.target_key_id = new_key->id;
  alias.updated_ms = NowMs();
  if (auto err = Persist(name, [&] { return store->PutAlias(alias); })) return *err;
  LogInfo("kms_alias_updated", {{"request_id", call.request_id},
                                {"alias", name},
                                {"from_key_id", old_key->id},
                                {"to_key_id", new_key->id}});
  return Json::object();
}

AwsResult KmsService::Impl::DeleteAlias(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string name, GetString(body, "AliasName", 256));
  if (auto bad = CheckAliasName(name)) return *bad;
  AWS_ASSIGN_OR_RETURN(auto key, AliasTarget(name));
  if (auto denied = AuthorizeAlias(call, "DeleteAlias", name, {key.get()})) return *denied;

  absl::MutexLock lock(&mu);
  if (auto changed = CheckAliasUnchanged(name, key->id)) return *changed;
  if (auto err = Persist(name, [&] { return store->DeleteAlias(name); })) return *err;
  LogInfo("kms_alias_deleted",
          {{"request_id", call.request_id}, {"alias", name}, {"key_id", key->id}});
  return Json::object();
}

namespace {

constexpr size_t kMaxGrantsPerKey = 50000;          // AWS quota "Grants per KMS key"
constexpr size_t kMaxGrantsPerGranteePerKey = 500;  // AWS quota "grants for a principal per key"

// GrantNameType / AliasName pattern: ^[a-zA-Z0-9:/_-]+$, 1..256.
bool IsGrantName(std::string_view name) {
  return !name.empty() && name.size() <= 256 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '/' || c == '_' ||
           c == '-';
  });
}

// CreateGrant's Operations: a non-empty list of GrantOperation names (duplicates dropped).
FieldOr<std::vector<std::string>> GetGrantOperations(const Json& body) {
  auto it = body.find("Operations");
  if (it == body.end() || it->is_null()) {
    return ValidationError(
        "1 validation error detected: Value null at 'operations' failed to satisfy constraint: "
        "Member must not be null");
  }
  if (!it->is_array()) return Serialization("Operations", "a list of strings");
  if (it->empty()) {
    return ValidationError(
        "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1");
  }
  const auto& names = KmsGrantOperationNames();
  std::vector<std::string> ops;
  for (const Json& op : *it) {
    if (!op.is_string()) return Serialization("Operations", "a list of strings");
    const std::string& name = op.get_ref<const std::string&>();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string allowed;
      for (std::string_view n : names)
        absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", Absl(n));
      return ValidationError(absl::StrCat(
          "1 validation error detected: Value '[", name,
          "]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: "
          "[Member must satisfy enum value set: [",
          allowed, "]]"));
    }
    if (std::find(ops.begin(), ops.end(), name) == ops.end()) ops.push_back(name);
  }
  return ops;
}

struct GrantConstraintInput {
  KmsGrantConstraint type = KmsGrantConstraint::kNone;
  EncryptionContext context;
};

// CreateGrant's Constraints: {"EncryptionContextEquals": {...}} or
// {"EncryptionContextSubset": {...}}; both at once is refused (one constraint type per grant).
FieldOr<GrantConstraintInput> GetGrantConstraints(const Json& body) {
  GrantConstraintInput out;
  auto it = body.find("Constraints");
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_object()) return Serialization("Constraints", "a structure");
  auto equals = GetOptionalStringMap(*it, "EncryptionContextEquals");
  if (IsError(equals)) return std::get<AwsError>(std::move(equals));
  auto subset = GetOptionalStringMap(*it, "EncryptionContextSubset");
  if (IsError(subset)) return std::get<AwsError>(std::move(subset));
  auto& eq = std::get<0>(equals);
  auto& sub = std::get<0>(subset);
  if (eq && sub) {
    return ValidationError(
        "A grant can have only one constraint: EncryptionContextEquals or "
        "EncryptionContextSubset");
  }
  if (eq) {
    out.type = KmsGrantConstraint::kEncryptionContextEquals;
    out.context = *std::move(eq);
  } else if (sub) {
    out.type = KmsGrantConstraint::kEncryptionContextSubset;
    out.context = *std::move(sub);
  }
  return out;
}

bool SameGrantParameters(const KmsGrant& g, const std::string& grantee, const std::string& retiring,
                         const std::vector<std::string>& ops, const GrantConstraintInput& c) {
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  return g.grantee_principal == grantee && g.retiring_principal == retiring &&
         sorted(g.operations) == sorted(ops) && g.constraint == c.type &&
         g.constraint_context == c.context;
}

}  // namespace

Json KmsService::Impl::GrantEntry(const KmsGrant& g) const {
  Json e = {{"KeyId", KeyArn(g.key_id)},
            {"GrantId", g.id},
            {"CreationDate", EpochSeconds(g.creation_ms)},
            {"GranteePrincipal", g.grantee_principal},
            {"IssuingAccount", g.issuing_account},
            {"Operations", g.operations}};
  if (!g.name.empty()) e["Name"] = g.name;
  if (!g.retiring_principal.empty()) e["RetiringPrincipal"] = g.retiring_principal;
  if (g.constraint != KmsGrantConstraint::kNone) {
    e["Constraints"] =
        Json{{std::string(KmsGrantConstraintName(g.constraint)), Json(g.constraint_context)}};
  }
  return e;
}

AwsResult KmsService::Impl::CreateGrant(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::string grantee, GetString(body, "GranteePrincipal", 256));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> retiring,
                       GetOptionalString(body, "RetiringPrincipal", 256));
  AWS_ASSIGN_OR_RETURN(std::vector<std::string> operations, GetGrantOperations(body));
  AWS_ASSIGN_OR_RETURN(GrantConstraintInput constraint, GetGrantConstraints(body));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> name, GetOptionalString(body, "Name", 256));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  if (name && !IsGrantName(*name)) {
    return ValidationError(
        "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$");
  }
  if (!IsValidGrantPrincipal(grantee) || (retiring && !IsValidGrantPrincipal(*retiring))) {
    return ValidationError("Invalid principal");
  }
  if (auto bad = CheckGrantTokens(body)) return *bad;
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));

  policy::RequestContext rc = Context(call, "kms:CreateGrant", KeyArn(key->id));
  rc.keys.Set("kms:GranteePrincipal", grantee);
  if (retiring) rc.keys.Set("kms:RetiringPrincipal", *retiring);
  for (const std::string& op : operations) rc.keys.Add("kms:GrantOperations", op);
  if (constraint.type != KmsGrantConstraint::kNone) {
    rc.keys.Set("kms:GrantConstraintType", KmsGrantConstraintName(constraint.type));
  }
  rc.keys.Set("kms:GrantIsForAWSResource", "false");
  // Through a grant, only a grant no broader than that grant may be created.
  GrantUse use{"CreateGrant", nullptr, [&](const KmsGrant& parent) {
                 return KmsGrantIsNarrower(parent, operations, constraint.type, constraint.context);
               }};
  if (auto denied = Authorize(call, "CreateGrant", key.get(), rc, "none", use)) return *denied;
  if (auto bad = CheckUsable(*key)) return *bad;
  if (dry_run) return DryRunError();

  KmsGrant grant;
  grant.id = NewKmsGrantId();
  grant.key_id = key->id;
  grant.name = name.value_or("");
  grant.creation_ms = NowMs();
  grant.issuing_account = absl::StrCat("arn:aws:iam::", account, ":root");
  grant.grantee_principal = grantee;
  grant.retiring_principal = retiring.value_or("");
  grant.operations = operations;
  grant.constraint = constraint.type;
  grant.constraint_context = constraint.context;

  absl::MutexLock lock(&mu);
  std::vector<KmsGrant> existing = store->Grants(key->id);
  if (name) {
    // AWS: a retried CreateGrant with the same Name and parameters returns the same grant.
    for (const KmsGrant& g : existing) {
      if (g.name == *name &&
          SameGrantParameters(g, grant.grantee_principal, grant.retiring_principal, operations,
                              constraint)) {
        return Json{{"GrantId", g.id}, {"GrantToken", MakeKmsGrantToken(g.id)}};
      }
    }
  }
  if (existing.size() >= kMaxGrantsPerKey ||
      std::count_if(existing.begin(), existing.end(), [&](const KmsGrant& g) {
        return g.grantee_principal == grantee;
      }) >= static_cast<std::ptrdiff_t>(kMaxGrantsPerGranteePerKey)) {
    return Error("LimitExceededException",
                 absl::StrCat("The grant quota for ", KeyArn(key->id), " is exceeded"));
  }
  const std::string id = grant.id;
  if (auto err = Persist(id, [&] { return store->PutGrant(std::move(grant)); })) return *err;
  LogInfo("kms_grant_created", {{"request_id", call.request_id},
                                {"key_id", key->id},
                                {"grant_id", id},
                                {"grantee", grantee},
                                {"operations", operations}});
  return Json{{"GrantId", id}, {"GrantToken", MakeKmsGrantToken(id)}};
}

AwsResult KmsService::Impl::ListGrants(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, GetOptionalInt(body, "Limit", 1, 100));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> marker, GetOptionalString(body, "Marker", 1024));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> grant_id,
                       GetOptionalString(body, "GrantId", 128));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> grantee,
                       GetOptionalString(body, "GranteePrincipal", 256));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  policy::RequestContext rc = Context(call, "kms:ListGrants", KeyArn(key->id));
  if (auto denied = Authorize(call, "ListGrants", key.get(), rc, "none")) return *denied;
  std::vector<KmsGrant> grants;
  {
    absl::MutexLock lock(&mu);
    grants = store->Grants(key->id);
  }
  std::erase_if(grants, [&](const KmsGrant& g) {
    return (grant_id && g.id != *grant_id) || (grantee && g.grantee_principal != *grantee);
  });
  return Page<KmsGrant>(
      grants, [](const KmsGrant& g) { return g.id; },
      [this](const KmsGrant& g) { return GrantEntry(g); }, marker,
      static_cast<size_t>(limit.value_or(50)), "Grants");
}

AwsResult KmsService::Impl::ListRetirableGrants(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string retiring, GetString(body, "RetiringPrincipal", 256));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> limit, GetOptionalInt(body, "Limit", 1, 100));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> marker, GetOptionalString(body, "Marker", 1024));
  policy::RequestContext rc = Context(call, "kms:ListRetirableGrants", "*");
  if (auto denied = Authorize(call, "ListRetirableGrants", nullptr, rc, "none")) return *denied;
  std::vector<KmsGrant> grants;
  {
    absl::MutexLock lock(&mu);
    grants = store->AllGrants();
  }
  std::erase_if(grants, [&](const KmsGrant& g) { return g.retiring_principal != retiring; });
  std::sort(grants.begin(), grants.end(),
            [](const KmsGrant& a, const KmsGrant& b) { return a.id < b.id; });
  return Page<KmsGrant>(
      grants, [](const KmsGrant& g) { return g.id; },
      [this](const KmsGrant& g) { return GrantEntry(g); }, marker,
      static_cast<size_t>(limit.value_or(50)), "Grants");
}

AwsResult KmsService::Impl::DeleteGrant(const CallContext& call, const std::string& key_id,
                                        const std::string& grant_id, std::string_view event) {
  absl::MutexLock lock(&mu);
  if (!store->FindGrant(key_id, grant_id)) {
    return Error("NotFoundException", absl::StrCat("Grant ID ", grant_id, " not found"));
  }
  if (auto err = Persist(grant_id, [&] { return store->DeleteGrant(key_id, grant_id); })) {
    return *err;
  }
  LogInfo(event, {{"request_id", call.request_id}, {"key_id", key_id}, {"grant_id", grant_id}});
  return Json::object();
}

AwsResult KmsService::Impl::RevokeGrant(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::string key_input, GetString(body, "KeyId", 2048));
  AWS_ASSIGN_OR_RETURN(std::string grant_id, GetString(body, "GrantId", 128));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  AWS_ASSIGN_OR_RETURN(auto key, ResolveKey(key_input, /*allow_alias=*/false));
  // Authorisation first, so a caller who may not revoke cannot probe which grant ids exist.
  policy::RequestContext rc = Context(call, "kms:RevokeGrant", KeyArn(key->id));
  if (auto denied = Authorize(call, "RevokeGrant", key.get(), rc, "none")) return *denied;
  if (!IsKmsGrantId(grant_id)) {
    return Error("InvalidGrantIdException", "The grant id is not valid");
  }
  if (dry_run) return DryRunError();
  return DeleteGrant(call, key->id, grant_id, "kms_grant_revoked");
}

AwsResult KmsService::Impl::RetireGrant(const Json& body, const CallContext& call) {
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> token,
                       GetOptionalString(body, "GrantToken", 8192));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> key_input, GetOptionalString(body, "KeyId"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> grant_param,
                       GetOptionalString(body, "GrantId", 128));
  AWS_ASSIGN_OR_RETURN(bool dry_run, GetDryRun(body));
  std::string grant_id;
  std::optional<std::string> key_id;
  if (token) {
    std::optional<std::string> from_token = KmsGrantIdFromToken(*token);
    if (!from_token) return Error("InvalidGrantTokenException", "Invalid grant token");
    grant_id = *from_token;
  } else if (key_input && grant_param) {
    grant_id = *grant_param;
  } else {
    return ValidationError("Either GrantToken, or both KeyId and GrantId, must be specified");
  }
  if (grant_param && *grant_param != grant_id) {
    return Error("InvalidGrantIdException", "The grant id does not match the grant token");
  }
  if (!IsKmsGrantId(grant_id)) {
    return Error("InvalidGrantIdException", "The grant id is not valid");
  }
  if (key_input) {
    AWS_ASSIGN_OR_RETURN(key_id, ResolveKeyId(*key_input, /*allow_alias=*/false));
  }
  std::optional<KmsGrant> grant;
  {
    absl::MutexLock lock(&mu);
    grant = key_id ? store->FindGrant(*key_id, grant_id) : store->FindGrantById(grant_id);
  }
  if (!grant) return Error("NotFoundException", absl::StrCat("Grant ID ", grant_id, " not found"));
  std::shared_ptr<const KmsKey> key = Find(grant->key_id);
  if (key == nullptr) return InternalFailure("the grant names a missing key");

  // Who may retire (AWS): the retiring principal, the grantee when the grant includes
  // RetireGrant, and the account the grant was created in (its root; its IAM principals when
  // their identity policies allow kms:RetireGrant on the key). A principal naming an account
  // delegates to that account's identity policies likewise.
  policy::RequestContext rc = Context(call, "kms:RetireGrant", KeyArn(key->id));
  auto allowed_as = [&](std::string_view principal) {
    GranteeMatch m = MatchGrantee(principal, call.caller);
    return m == GranteeMatch::kDirect ||
           (m == GranteeMatch::kAccount && policy::Evaluate(iam_only_policy, rc).allowed());
  };
  const bool grantee_may = std::find(grant->operations.begin(), grant->operations.end(),
                                     "RetireGrant") != grant->operations.end();
  const bool allowed = allowed_as(grant->retiring_principal) ||
                       (grantee_may && allowed_as(grant->grantee_principal)) ||
                       allowed_as(grant->issuing_account);
  LogInfo("kms_authorization",
          {{"request_id", call.request_id},
           {"operation", "RetireGrant"},
           {"principal", call.caller.arn},
           {"resource", rc.resource},
           {"action", rc.action},
           {"allowed", allowed},
           {"grant_id", grant_id},
           {"reason", allowed ? "the grant lets the caller retire it"
                              : "the grant does not let the caller retire it"}});
  if (!allowed) {
    return AccessDenied(absl::StrCat("User: ", call.caller.arn, " is not authorized to perform: ",
                                     "kms:RetireGrant on resource: ", KeyArn(key->id),
                                     " because the grant does not allow it to retire the grant"));
  }
  if (dry_run) return DryRunError();
  return DeleteGrant(call, key->id, grant_id, "kms_grant_retired");
}

KmsService::KmsService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KmsService::~KmsService() = default;

absl::StatusOr<std::unique_ptr<KmsService>> KmsService::Open(KmsOptions options,
                                                             IdentityStore& identity,
                                                             const Clock& clock) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("KMS needs a state directory");
  if (options.attestation_max_age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("attestation_max_age must be positive");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<KmsKeyStore> store,
                   KmsKeyStore::Open(options.state_dir + "/kms"));
  ASSIGN_OR_RETURN(std::string iam_text, policy::DefaultKeyPolicy(identity.options().account));
  ASSIGN_OR_RETURN(policy::Policy iam_only,
                   policy::Policy::Parse(iam_text, policy::PolicyKind::kKeyPolicy));
  auto impl = std::make_unique<Impl>(std::move(options), identity, clock, std::move(store),
                                     std::move(iam_only));
  return std::unique_ptr<KmsService>(new KmsService(std::move(impl)));
}

AwsResult KmsService::Handle(std::string_view operation, const Json& request,
                             const CallContext& context) {
  Impl& s = *impl_;
  if (!request.is_object()) return Error("SerializationException", "The body must be an object");
  if (operation == "CreateKey") return s.CreateKey(request, context);
  if (operation == "DescribeKey") return s.DescribeKey(request, context);
  if (operation == "ListKeys") return s.ListKeys(request, context);
  if (operation == "CreateAlias") return s.CreateAlias(request, context);
  if (operation == "ListAliases") return s.ListAliases(request, context);
  if (operation == "Encrypt") return s.Encrypt(request, context);
  if (operation == "Decrypt") return s.Decrypt(request, context);
  if (operation == "ReEncrypt") return s.ReEncrypt(request, context);
  if (operation == "GenerateDataKey") return s.GenerateDataKey(request, context, true);
  if (operation == "GenerateDataKeyWithoutPlaintext") {
    return s.GenerateDataKey(request, context, false);
  }
  if (operation == "GenerateRandom") return s.GenerateRandom(request, context);
  if (operation == "GetKeyPolicy") return s.GetKeyPolicy(request, context);
  if (operation == "PutKeyPolicy") return s.PutKeyPolicy(request, context);
  if (operation == "EnableKey") return s.SetEnabled(request, context, true);
  if (operation == "DisableKey") return s.SetEnabled(request, context, false);
  if (operation == "ScheduleKeyDeletion") return s.ScheduleKeyDeletion(request, context);
  if (operation == "CancelKeyDeletion") return s.CancelKeyDeletion(request, context);
  if (operation == "TagResource") return s.TagResource(request, context);
  if (operation == "ListResourceTags") return s.ListResourceTags(request, context);
  if (operation == "UpdateAlias") return s.UpdateAlias(request, context);
  if (operation == "DeleteAlias") return s.DeleteAlias(request, context);
  if (operation == "CreateGrant") return s.CreateGrant(request, context);
  if (operation == "ListGrants") return s.ListGrants(request, context);
  if (operation == "ListRetirableGrants") return s.ListRetirableGrants(request, context);
  if (operation == "RevokeGrant") return s.RevokeGrant(request, context);
  if (operation == "RetireGrant") return s.RetireGrant(request, context);
  return Error("UnknownOperationException", "");
}

}  // namespace lockout::localaws
