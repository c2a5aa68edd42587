#include "src/localaws/secrets_service.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/localaws/secrets_store.h"
#include "src/policy/policy.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {
namespace {

// Error texts as AWS Secrets Manager sends them (API reference and observed responses).
constexpr std::string_view kNotFound = "Secrets Manager can't find the specified secret.";
constexpr std::string_view kMarkedForDeletion =
    "You can't perform this operation on the secret because it was marked for deletion.";
constexpr std::string_view kInvalidName =
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
    "following: -/_+=.@!";
constexpr std::string_view kBothValues =
    "You can't specify both a binary secret value and a string secret value in the same secret.";

constexpr std::string_view kCurrent = "AWSCURRENT";
constexpr std::string_view kPrevious = "AWSPREVIOUS";

// A local safety valve against unbounded state; AWS's own quota is 500,000 per Region.
constexpr size_t kMaxSecrets = 10000;
constexpr int64_t kDefaultListResults = 100;

AwsError Error(std::string_view type, std::string message) {
  return AwsError{std::string(type), std::move(message), 400};
}
AwsError NotFound() { return Error("ResourceNotFoundException", std::string(kNotFound)); }
AwsError MarkedForDeletion() {
  return Error("InvalidRequestException", std::string(kMarkedForDeletion));
}
AwsError InternalServiceError() {
  // The specific reason stays local; the peer learns only that the write did not happen.
  return AwsError{"InternalServiceError", "An error occurred on the server side.", 500};
}
AwsError LengthError(std::string_view field, size_t min, size_t max) {
  return ValidationError(absl::StrCat("1 validation error detected: Value at '", Absl(field),
                                      "' failed to satisfy constraint: Member must have length ",
                                      "between ", min, " and ", max));
}
AwsError TypeError(std::string_view field, std::string_view want) {
  return AwsError{"SerializationException",
                  absl::StrCat("Field '", Absl(field), "' must be ", Absl(want)), 400};
}

// AWS reports dates as epoch seconds with millisecond precision.
double EpochSeconds(absl::Time t) { return static_cast<double>(absl::ToUnixMillis(t)) / 1000.0; }

absl::Time StartOfDay(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 86400 * 86400);
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Characters a SecretId (name form) may contain: CreateSecret's set plus '!' (AWS's message).
bool IsValidSecretIdName(std::string_view id) {
  for (char c : id) {
    if (!IsAlnum(c) && std::string_view("/_+=.@!-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return !id.empty();
}

// The six random characters AWS appends to a secret's name in its ARN.
std::string RandomArnSuffix() {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < 6) {
    for (uint8_t b : crypto::RandomBytes(16)) {
      // Rejection sampling keeps the choice uniform over the 62 characters.
      if (b < 248 && out.size() < 6) out.push_back(kAlphabet[b % 62]);
    }
  }
  return out;
}

const Json* FindField(const Json& body, std::string_view field) {
  auto it = body.find(std::string(field));
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

// An optional string with AWS length bounds (the shared helper assumes a minimum of 1).
FieldOr<std::optional<std::string>> GetBoundedString(const Json& body, std::string_view field,
                                                     size_t min, size_t max) {
  const Json* v = FindField(body, field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(field, "a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() < min || s.size() > max) return LengthError(field, min, max);
  return std::optional<std::string>(s);
}

// The secret value of a request: SecretString or SecretBinary (base64), read straight into
// SecretBytes so that no other copy of the plaintext is made.
struct SecretInput {
  bool binary = false;
  SecretBytes value;
};

FieldOr<std::optional<SecretInput>> GetSecretInput(const Json& body) {
  const Json* str = FindField(body, "SecretString");
  const Json* bin = FindField(body, "SecretBinary");
  if (str != nullptr && bin != nullptr)
    return Error("InvalidParameterException", std::string(kBothValues));
  if (str != nullptr) {
    if (!str->is_string()) return TypeError("SecretString", "a string");
    const std::string& s = str->get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxSecretValueBytes) {
      return LengthError("SecretString", 1, kMaxSecretValueBytes);
    }
    return std::optional<SecretInput>(SecretInput{false, SecretBytes::CopyFrom(s)});
  }
  if (bin != nullptr) {
    if (!bin->is_string()) return TypeError("SecretBinary", "a base64-encoded blob");
    absl::StatusOr<Bytes> decoded = Base64Decode(bin->get_ref<const std::string&>());
    if (!decoded.ok()) {
      return AwsError{"SerializationException", "Field 'SecretBinary' is not valid base64", 400};
    }
    SecretInput in{true, SecretBytes::CopyFrom(ByteView(*decoded))};
    const size_t size = decoded->size();
    WipeBytes(*decoded);
    if (size == 0 || size > kMaxSecretValueBytes) {
      return LengthError("SecretBinary", 1, kMaxSecretValueBytes);
    }
    return std::optional<SecretInput>(std::move(in));
  }
  return std::optional<SecretInput>();
}

// ClientRequestToken / VersionId: 32..64 characters.
FieldOr<std::optional<std::string>> GetVersionToken(const Json& body, std::string_view field) {
  return GetBoundedString(body, field, 32, 64);
}

FieldOr<std::optional<std::vector<std::pair<std::string, std::string>>>> GetTags(const Json& body) {
  using Tags = std::vector<std::pair<std::string, std::string>>;
  const Json* v = FindField(body, "Tags");
  if (v == nullptr) return std::optional<Tags>();
  if (!v->is_array()) return TypeError("Tags", "a list of tags");
  if (v->size() > kMaxTagsPerSecret) {
    return ValidationError(absl::StrCat("1 validation error detected: Value at 'tags' failed to ",
                                        "satisfy constraint: Member must have length less than ",
                                        "or equal to ", kMaxTagsPerSecret));
  }
  Tags tags;
  std::set<std::string> keys;
  for (const auto& t : *v) {
    if (!t.is_object()) return TypeError("Tags", "a list of tags");
    AWS_ASSIGN_OR_RETURN(std::optional<std::string> key, GetBoundedString(t, "Key", 1, 128));
    AWS_ASSIGN_OR_RETURN(std::optional<std::string> value, GetBoundedString(t, "Value", 0, 256));
    if (!key)
      return ValidationError("1 validation error detected: Value null at 'tags.member.key'");
    if (!keys.insert(*key).second) {
      return Error("InvalidParameterException", "You can't use the same tag key twice.");
    }
    tags.emplace_back(*key, value.value_or(""));
  }
  return std::optional<Tags>(std::move(tags));
}

FieldOr<std::optional<std::vector<std::string>>> GetVersionStages(const Json& body) {
  const Json* v = FindField(body, "VersionStages");
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return TypeError("VersionStages", "a list of strings");
  if (v->empty() || v->size() > 20) return LengthError("VersionStages", 1, 20);
  std::vector<std::string> stages;
  for (const auto& s : *v) {
    if (!s.is_string()) return TypeError("VersionStages", "a list of strings");
    const std::string& label = s.get_ref<const std::string&>();
    if (label.empty() || label.size() > 256) return LengthError("VersionStages.member", 1, 256);
    if (std::find(stages.begin(), stages.end(), label) == stages.end()) stages.push_back(label);
  }
  return std::optional<std::vector<std::string>>(std::move(stages));
}

Json TagsJson(const SecretRecord& r) {
  Json tags = Json::array();
  for (const auto& [k, v] : r.tags) tags.push_back({{"Key", k}, {"Value", v}});
  return tags;
}

// Versions that carry staging labels, as DescribeSecret / ListSecrets show them.
Json VersionsToStages(const SecretRecord& r) {
  Json m = Json::object();
  for (const auto& v : r.versions) {
    if (!v.stages.empty()) m[v.id] = v.stages;
  }
  return m;
}

// The metadata DescribeSecret and ListSecrets share.
Json Metadata(const SecretRecord& r) {
  Json j = {{"ARN", r.arn},
            {"Name", r.name},
            {"LastChangedDate", EpochSeconds(r.last_changed)},
            {"CreatedDate", EpochSeconds(r.created)}};
  if (r.description) j["Description"] = *r.description;
  if (r.kms_key_id) j["KmsKeyId"] = *r.kms_key_id;
  if (r.last_accessed) j["LastAccessedDate"] = EpochSeconds(*r.last_accessed);
  if (r.deletion_date) j["DeletedDate"] = EpochSeconds(*r.deletion_date);
  if (!r.tags.empty()) j["Tags"] = TagsJson(r);
  return j;
}

// Moves `stages` onto `target` (index into r.versions) following PutSecretValue's rules: a
// label names one version; when AWSCURRENT moves, the version that had it becomes AWSPREVIOUS.
void MoveStages(SecretRecord& r, size_t target, const std::vector<std::string>& stages) {
  std::optional<size_t> old_current;
  for (size_t i = 0; i < r.versions.size(); ++i) {
    if (i != target && r.versions[i].HasStage(kCurrent)) old_current = i;
  }
  auto given = [&stages](std::string_view label) {
    return std::find(stages.begin(), stages.end(), label) != stages.end();
  };
  // AWSPREVIOUS follows AWSCURRENT unless the caller placed AWSPREVIOUS itself.
  const bool moves_current = given(kCurrent) && old_current && !given(kPrevious);
  for (size_t i = 0; i < r.versions.size(); ++i) {
    if (i == target) continue;
    auto& s = r.versions[i].stages;
    s.erase(std::remove_if(s.begin(), s.end(),
                           [&](const std::string& label) {
                             return given(label) || (moves_current && label == kPrevious);
                           }),
            s.end());
  }
  auto& mine = r.versions[target].stages;
  for (const auto& label : stages) {
    if (std::find(mine.begin(), mine.end(), label) == mine.end()) mine.push_back(label);
  }
  if (moves_current) {
    auto& prev = r.versions[*old_current].stages;
    if (std::find(prev.begin(), prev.end(), kPrevious) == prev.end()) {
      prev.emplace_back(kPrevious);
    }
  }
}

// Drops the oldest versions without labels once a secret has more than AWS keeps.
void TrimVersions(SecretRecord& r) {
  size_t excess =
      r.versions.size() > kMaxVersionsPerSecret ? r.versions.size() - kMaxVersionsPerSecret : 0;
  for (auto it = r.versions.begin(); excess > 0 && it != r.versions.end();) {
    if (it->stages.empty()) {
      it = r.versions.erase(it);
      --excess;
    } else {
      ++it;
    }
  }
}

// ListSecrets filters: each value is a prefix (a leading '!' negates it); values of one filter
// are ORed, filters are ANDed.
struct Filter {
  std::string key;
  std::vector<std::string> values;
};

bool FilterMatches(const Filter& f, const SecretRecord& r) {
  std::vector<std::string_view> fields;
  auto add_tags = [&](bool keys, bool values) {
    for (const auto& [k, v] : r.tags) {
      if (keys) fields.emplace_back(k);
      if (values) fields.emplace_back(v);
    }
  };
  if (f.key == "name" || f.key == "all") fields.emplace_back(r.name);
  if ((f.key == "description" || f.key == "all") && r.description) {
    fields.emplace_back(*r.description);
  }
  if (f.key == "tag-key") add_tags(true, false);
  if (f.key == "tag-value") add_tags(false, true);
  if (f.key == "all") add_tags(true, true);
  for (const auto& value : f.values) {
    const bool negated = !value.empty() && value[0] == '!';
    std::string_view prefix = negated ? std::string_view(value).substr(1) : value;
    bool any = false;
    for (std::string_view field : fields) {
      if (absl::StartsWith(Absl(field), Absl(prefix))) any = true;
    }
    if (any != negated) return true;
  }
  return false;
}

FieldOr<std::vector<Filter>> GetFilters(const Json& body) {
  const Json* v = FindField(body, "Filters");
  std::vector<Filter> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return TypeError("Filters", "a list of filters");
  if (v->size() > 10) return LengthError("Filters", 0, 10);
  static const std::set<std::string> kKeys = {"description", "name", "tag-key", "tag-value", "all"};
  for (const auto& jf : *v) {
    if (!jf.is_object()) return TypeError("Filters", "a list of filters");
    AWS_ASSIGN_OR_RETURN(std::optional<std::string> key, GetBoundedString(jf, "Key", 1, 64));
    if (!key || kKeys.count(*key) == 0) {
      return ValidationError(
          "1 validation error detected: Value at 'filters.member.key' failed to satisfy "
          "constraint: Member must satisfy enum value set: [description, name, tag-key, "
          "tag-value, all]");
    }
    Filter f{*key, {}};
    const Json* values = FindField(jf, "Values");
    if (values == nullptr || !values->is_array() || values->empty() || values->size() > 10) {
      return Error("InvalidParameterException", "Invalid filter values");
    }
    for (const auto& jv : *values) {
      if (!jv.is_string() || jv.get_ref<const std::string&>().size() > 512) {
        return Error("InvalidParameterException", "Invalid filter values");
      }
      f.values.push_back(jv.get<std::string>());
    }
    out.push_back(std::move(f));
  }
  return out;
}

// NextToken: an opaque base64 of "lockout-list-v1:<offset>".
std::string MakeNextToken(size_t offset) {
  std::string plain = absl::StrCat("lockout-list-v1:", offset);
  return Base64Encode(ByteView(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()));
}

std::optional<size_t> ParseNextToken(std::string_view token) {
  absl::StatusOr<Bytes> raw = Base64Decode(token);
  if (!raw.ok()) return std::nullopt;
  std::string plain(raw->begin(), raw->end());
  constexpr std::string_view kPrefix = "lockout-list-v1:";
  if (!absl::StartsWith(plain, Absl(kPrefix))) return std::nullopt;
  uint64_t offset = 0;
  if (!absl::SimpleAtoi(Absl(std::string_view(plain).substr(kPrefix.size())), &offset) ||
      plain.size() == kPrefix.size() || plain[kPrefix.size()] == '+' ||
      plain[kPrefix.size()] == '-') {
    return std::nullopt;
  }
  return static_cast<size_t>(offset);
}

}  // namespace

struct SecretsService::Impl {
  Impl(SecretsStore s, IdentityStore& id, const Clock& c, policy::Policy delegate)
      : identity(id), clock(c), delegate_policy(std::move(delegate)), store(std::move(s)) {}

  IdentityStore& identity;
  const Clock& clock;
  // A synthetic resource policy that hands every decision to the caller's identity policies
  // (the account principal delegates to IAM; see policy_evaluator.h rule 3). Secrets carry no
  // resource policies locally.
  const policy::Policy delegate_policy;

  absl::Mutex mu;
  SecretsStore store ABSL_GUARDED_BY(mu);

  std::string region() const { return identity.options().region; }
  std::string account() const { return identity.options().account; }
  std::string ArnPrefix() const {
    return absl::StrCat("arn:aws:secretsmanager:", region(), ":", account(), ":secret:");
  }

  std::optional<AwsError> Authorize(const CallContext& ctx, std::string_view op,
                                    const std::string& resource, std::string_view shown) const;

  // Resolves a SecretId (name, full ARN or partial ARN without the random suffix). Returns the
  // record (nullptr if none), or a ValidationException for an id no secret could have.
  // `resource` gets the ARN to authorise against.
  FieldOr<const SecretRecord*> Resolve(std::string_view secret_id, std::string* resource)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // The first steps of every per-secret operation: finishes expired deletions, resolves
  // `secret_id` and authorises `op` on it. Returns the record (nullptr if there is none: the
  // caller decides between ResourceNotFound and creating it) or the error to send.
  FieldOr<const SecretRecord*> ResolveAuthorized(std::string_view op, std::string_view secret_id,
                                                 const CallContext& ctx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Finishes deletions whose recovery window has ended.
  void PurgeExpired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  AwsResult CreateSecret(const Json& req, const CallContext& ctx);
  AwsResult GetSecretValue(const Json& req, const CallContext& ctx);
  AwsResult PutSecretValue(const Json& req, const CallContext& ctx);
  AwsResult DescribeSecret(const Json& req, const CallContext& ctx);
  AwsResult ListSecrets(const Json& req, const CallContext& ctx);
  AwsResult DeleteSecret(const Json& req, const CallContext& ctx);
  AwsResult RestoreSecret(const Json& req, const CallContext& ctx);
  AwsResult UpdateSecret(const Json& req, const CallContext& ctx);

  // Adds `input` to `r` as a new version with `stages` (default AWSCURRENT), following
  // PutSecretValue's rules: an existing ClientRequestToken with the same value is an idempotent
  // retry; with another value, ResourceExistsException. `description`, if set, is stored too.
  AwsResult AddVersion(const SecretRecord& r, const std::optional<std::string>& token,
                       std::optional<std::vector<std::string>> stages, SecretInput input,
                       std::optional<std::string> description = std::nullopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

std::optional<AwsError> SecretsService::Impl::Authorize(const CallContext& ctx, std::string_view op,
                                                        const std::string& resource,
                                                        std::string_view shown) const {
  policy::RequestContext request;
  request.principal = ctx.caller;
  request.action = absl::StrCat("secretsmanager:", Absl(op));
  request.resource = resource;
  request.identity_policies = identity.IdentityPolicies(ctx.caller);
  policy::Decision d = policy::Evaluate(delegate_policy, request);
  if (d.allowed()) return std::nullopt;
  // AWS's wording for IAM denials.
  const std::string why =
      d.outcome == policy::Outcome::kExplicitDeny
          ? "with an explicit deny in an identity-based policy"
          : absl::StrCat("because no identity-based policy allows the ", request.action, " action");
  return AccessDenied(absl::StrCat("User: ", ctx.caller.arn, " is not authorized to perform: ",
                                   request.action, " on resource: ", Absl(shown), " ", why));
}

FieldOr<const SecretRecord*> SecretsService::Impl::Resolve(std::string_view secret_id,
                                                           std::string* resource) {
  if (!absl::StartsWith(Absl(secret_id), "arn:")) {
    if (!IsValidSecretIdName(secret_id)) return ValidationError(std::string(kInvalidName));
    const SecretRecord* r = store.Find(secret_id);
    *resource = r != nullptr ? r->arn : absl::StrCat(ArnPrefix(), Absl(secret_id));
    return r;
  }
  *resource = std::string(secret_id);
  std::array<std::string_view, 6> parts;
  if (!policy::SplitArn(secret_id, parts) || parts[1] != "aws" || parts[2] != "secretsmanager" ||
      !absl::StartsWith(Absl(parts[5]), "secret:")) {
    return ValidationError(std::string(kInvalidName));
  }
  std::string_view name_part = parts[5].substr(7);
  if (!IsValidSecretIdName(name_part)) return ValidationError(std::string(kInvalidName));
  if (parts[3] != region() || parts[4] != account())
    return static_cast<const SecretRecord*>(nullptr);
  // A full ARN ends with the random suffix; a partial ARN names the secret directly. The full
  // form wins when both could apply ("db-abcdef" may be a name too).
  const size_t dash = name_part.rfind('-');
  if (dash != std::string_view::npos) {
    const SecretRecord* r = store.Find(name_part.substr(0, dash));
    if (r != nullptr && r->arn == secret_id) return r;
  }
  const SecretRecord* r = store.Find(name_part);
  if (r != nullptr) *resource = r->arn;
  return r;
}

FieldOr<const SecretRecord*> SecretsService::Impl::ResolveAuthorized(std::string_view op,
                                                                     std::string_view secret_id,
                                                                     const CallContext& ctx) {
  PurgeExpired();
  std::string resource;
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, Resolve(secret_id, &resource));
  if (auto denied = Authorize(ctx, op, resource, secret_id)) return *std::move(denied);
  return r;
}

void SecretsService::Impl::PurgeExpired() {
  const absl::Time now = clock.Now();
  std::vector<std::string> expired;
  for (const auto& [name, r] : store.records()) {
    if (r.deletion_date && *r.deletion_date <= now) expired.push_back(name);
  }
  // A failed removal leaves the record scheduled; the next request tries again.
  for (const auto& name : expired) (void)store.Remove(name);
}

AwsResult SecretsService::Impl::CreateSecret(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string name, GetString(req, "Name", kMaxSecretNameLength));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> token,
                       GetVersionToken(req, "ClientRequestToken"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> description,
                       GetBoundedString(req, "Description", 0, 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> kms_key_id,
                       GetBoundedString(req, "KmsKeyId", 0, 2048));
  AWS_ASSIGN_OR_RETURN(auto tags, GetTags(req));
  AWS_ASSIGN_OR_RETURN(std::optional<SecretInput> input, GetSecretInput(req));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> force_overwrite,
                       GetOptionalBool(req, "ForceOverwriteReplicaSecret"));
  (void)force_overwrite;
  if (FindField(req, "AddReplicaRegions") != nullptr) {
    return Error("InvalidParameterException", "local-aws does not replicate secrets.");
  }
  if (!IsValidSecretName(name)) return ValidationError(std::string(kInvalidName));

  absl::MutexLock lock(&mu);
  PurgeExpired();
  const SecretRecord* existing = store.Find(name);
  const std::string arn =
      existing != nullptr ? existing->arn : absl::StrCat(ArnPrefix(), name, "-", RandomArnSuffix());
  if (auto denied = Authorize(ctx, "CreateSecret", arn, name)) return *std::move(denied);

  if (existing != nullptr) {
    if (existing->deletion_date) {
      return Error("InvalidRequestException",
                   "You can't create this secret because a secret with this name is already "
                   "scheduled for deletion.");
    }
    // A retry of the same request (same token, same value) succeeds and changes nothing.
    const SecretVersion* v = token ? existing->FindVersion(*token) : nullptr;
    if (v != nullptr && input && v->binary == input->binary && v->value.Equals(input->value)) {
      return Json{{"ARN", existing->arn}, {"Name", existing->name}, {"VersionId", v->id}};
    }
    return Error("ResourceExistsException", absl::StrCat("The operation failed because the secret ",
                                                         name, " already exists."));
  }
  if (store.records().size() >= kMaxSecrets) {
    return Error("LimitExceededException",
                 absl::StrCat("local-aws holds at most ", kMaxSecrets, " secrets."));
  }

  const absl::Time now = clock.Now();
  SecretRecord r;
  r.name = name;
  r.arn = arn;
  r.description = std::move(description);
  r.kms_key_id = std::move(kms_key_id);
  r.created = now;
  r.last_changed = now;
  if (tags) r.tags = *std::move(tags);
  Json response = {{"ARN", r.arn}, {"Name", r.name}};
  if (input) {
    SecretVersion v;
    v.id = token ? *token : crypto::RandomUuid();
    v.stages = {std::string(kCurrent)};
    v.created = now;
    v.binary = input->binary;
    v.value = std::move(input->value);
    response["VersionId"] = v.id;
    r.versions.push_back(std::move(v));
  }
  if (!store.Save(std::move(r)).ok()) return InternalServiceError();
  return response;
}

AwsResult SecretsService::Impl::GetSecretValue(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> version_id, GetVersionToken(req, "VersionId"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> stage,
                       GetBoundedString(req, "VersionStage", 1, 256));

  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("GetSecretValue", secret_id, ctx));
  if (r == nullptr) return NotFound();
  if (r->deletion_date) return MarkedForDeletion();

  const SecretVersion* v = nullptr;
  if (version_id) {
    v = r->FindVersion(*version_id);
    if (v == nullptr) {
      return Error("ResourceNotFoundException",
                   absl::StrCat("Secrets Manager can't find the specified secret value for "
                                "VersionId: ",
                                *version_id));
    }
    if (stage && !v->HasStage(*stage)) {
      return Error("InvalidRequestException",
                   "You provided a VersionStage that is not associated to the provided "
                   "VersionId.");
    }
  } else {
    const std::string label = stage.value_or(std::string(kCurrent));
    v = r->FindStage(label);
    if (v == nullptr) {
      return Error("ResourceNotFoundException",
                   absl::StrCat("Secrets Manager can't find the specified secret value for "
                                "staging label: ",
                                label));
    }
  }

  Json response = {{"ARN", r->arn},
                   {"Name", r->name},
                   {"VersionId", v->id},
                   {"VersionStages", v->stages},
                   {"CreatedDate", EpochSeconds(v->created)}};
  if (v->binary) {
    response["SecretBinary"] = Base64Encode(v->value.Reveal());
  } else {
    response["SecretString"] = std::string(v->value.RevealAsString());
  }

  // LastAccessedDate has a resolution of one day on AWS, so it costs at most one write per
  // secret per day. It is bookkeeping: a failed write does not fail the read.
  const absl::Time today = StartOfDay(clock.Now());
  if (!r->last_accessed || *r->last_accessed != today) {
    SecretRecord updated = r->Clone();
    updated.last_accessed = today;
    (void)store.Save(std::move(updated));
  }
  return response;
}

AwsResult SecretsService::Impl::PutSecretValue(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> token,
                       GetVersionToken(req, "ClientRequestToken"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> stages, GetVersionStages(req));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> rotation_token,
                       GetBoundedString(req, "RotationToken", 36, 256));
  (void)rotation_token;  // rotation (Lambda) is not emulated
  AWS_ASSIGN_OR_RETURN(std::optional<SecretInput> input, GetSecretInput(req));

  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("PutSecretValue", secret_id, ctx));
  if (!input) {
    return Error("InvalidRequestException",
                 "You must provide either SecretString or SecretBinary.");
  }
  if (r == nullptr) return NotFound();
  if (r->deletion_date) return MarkedForDeletion();

  return AddVersion(*r, token, std::move(stages), *std::move(input));
}

AwsResult SecretsService::Impl::AddVersion(const SecretRecord& r,
                                           const std::optional<std::string>& token,
                                           std::optional<std::vector<std::string>> stages,
                                           SecretInput input,
                                           std::optional<std::string> description) {
  if (token) {
    if (const SecretVersion* v = r.FindVersion(*token)) {
      // Idempotent retry, or an attempt to change an existing version.
      if (v->binary == input.binary && v->value.Equals(input.value) && !description) {
        return Json{
            {"ARN", r.arn}, {"Name", r.name}, {"VersionId", v->id}, {"VersionStages", v->stages}};
      }
      return Error("ResourceExistsException",
                   "You can't modify an existing version, you can only create new versions.");
    }
  }

  const absl::Time now = clock.Now();
  SecretRecord updated = r.Clone();
  if (description) updated.description = std::move(description);
  std::vector<std::string> labels =
      stages ? *std::move(stages) : std::vector<std::string>{std::string(kCurrent)};
  // The first version of a secret always becomes AWSCURRENT.
  if (updated.FindStage(kCurrent) == nullptr &&
      std::find(labels.begin(), labels.end(), kCurrent) == labels.end()) {
    labels.emplace_back(kCurrent);
  }
  SecretVersion v;
  v.id = token ? *token : crypto::RandomUuid();
  v.created = now;
  v.binary = input.binary;
  v.value = std::move(input.value);
  const std::string version_id = v.id;
  updated.versions.push_back(std::move(v));
  MoveStages(updated, updated.versions.size() - 1, labels);
  const std::vector<std::string> new_stages = updated.versions.back().stages;
  updated.last_changed = now;
  TrimVersions(updated);

  Json response = {{"ARN", updated.arn},
                   {"Name", updated.name},
                   {"VersionId", version_id},
                   {"VersionStages", new_stages}};
  if (!store.Save(std::move(updated)).ok()) return InternalServiceError();
  return response;
}

// UpdateSecret (secretsmanager:UpdateSecret): with a value, a new AWSCURRENT version exactly as
// PutSecretValue makes one (same ClientRequestToken idempotency); without one, only the
// description and KmsKeyId change. The reply has no VersionStages, as on AWS.
AwsResult SecretsService::Impl::UpdateSecret(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> token,
                       GetVersionToken(req, "ClientRequestToken"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> description,
                       GetBoundedString(req, "Description", 0, 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> kms_key_id,
                       GetBoundedString(req, "KmsKeyId", 0, 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<SecretInput> input, GetSecretInput(req));

  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("UpdateSecret", secret_id, ctx));
  if (r == nullptr) return NotFound();
  if (r->deletion_date) return MarkedForDeletion();
  if (input) {
    if (kms_key_id) {
      return Error("InvalidParameterException",
                   "local-aws does not change a secret's KmsKeyId together with its value.");
    }
    AwsResult added =
        AddVersion(*r, token, std::nullopt, *std::move(input), std::move(description));
    if (added.ok()) added.value().erase("VersionStages");
    return added;
  }
  SecretRecord updated = r->Clone();
  if (description) updated.description = std::move(description);
  if (kms_key_id) updated.kms_key_id = std::move(kms_key_id);
  updated.last_changed = clock.Now();
  Json response = {{"ARN", updated.arn}, {"Name", updated.name}};
  if (!store.Save(std::move(updated)).ok()) return InternalServiceError();
  return response;
}

AwsResult SecretsService::Impl::DescribeSecret(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("DescribeSecret", secret_id, ctx));
  if (r == nullptr) return NotFound();
  // A secret scheduled for deletion can still be described: that is how DeletedDate is seen.
  Json j = Metadata(*r);
  j["VersionIdsToStages"] = VersionsToStages(*r);
  return j;
}

AwsResult SecretsService::Impl::ListSecrets(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> max_results,
                       GetOptionalInt(req, "MaxResults", 1, 100));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> next_token,
                       GetBoundedString(req, "NextToken", 1, 4096));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> include_deleted,
                       GetOptionalBool(req, "IncludePlannedDeletion"));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> sort_order,
                       GetBoundedString(req, "SortOrder", 1, 16));
  AWS_ASSIGN_OR_RETURN(std::optional<std::string> sort_by, GetBoundedString(req, "SortBy", 1, 32));
  AWS_ASSIGN_OR_RETURN(std::vector<Filter> filters, GetFilters(req));
  if (sort_order && *sort_order != "asc" && *sort_order != "desc") {
    return ValidationError(
        "1 validation error detected: Value at 'sortOrder' failed to satisfy constraint: Member "
        "must satisfy enum value set: [asc, desc]");
  }
  static const std::set<std::string> kSortKeys = {"created-date", "last-accessed-date",
                                                  "last-changed-date", "name"};
  if (sort_by && kSortKeys.count(*sort_by) == 0) {
    return ValidationError(
        "1 validation error detected: Value at 'sortBy' failed to satisfy constraint: Member "
        "must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, "
        "name]");
  }
  size_t offset = 0;
  if (next_token) {
    std::optional<size_t> parsed = ParseNextToken(*next_token);
    if (!parsed) return Error("InvalidNextTokenException", "The NextToken value is invalid.");
    offset = *parsed;
  }
  // ListSecrets has no resource-level permission on AWS: the resource is "*".
  if (auto denied = Authorize(ctx, "ListSecrets", "*", "*")) return *std::move(denied);

  absl::MutexLock lock(&mu);
  PurgeExpired();
  std::vector<const SecretRecord*> matches;
  for (const auto& [name, r] : store.records()) {
    if (r.deletion_date && !include_deleted.value_or(false)) continue;
    bool ok = true;
    for (const auto& f : filters) ok = ok && FilterMatches(f, r);
    if (ok) matches.push_back(&r);
  }
  const std::string by = sort_by.value_or("created-date");
  auto key_less = [&by](const SecretRecord* a, const SecretRecord* b) {
    if (by == "name") return a->name < b->name;
    absl::Time ta = a->created, tb = b->created;
    if (by == "last-changed-date") {
      ta = a->last_changed;
      tb = b->last_changed;
    } else if (by == "last-accessed-date") {
      ta = a->last_accessed.value_or(absl::InfinitePast());
      tb = b->last_accessed.value_or(absl::InfinitePast());
    }
    if (ta != tb) return ta < tb;
    return a->name < b->name;  // a total order keeps pagination stable
  };
  std::stable_sort(matches.begin(), matches.end(), key_less);
  if (sort_order.value_or("asc") == "desc") std::reverse(matches.begin(), matches.end());

  const size_t limit = static_cast<size_t>(max_results.value_or(kDefaultListResults));
  Json list = Json::array();
  for (size_t i = offset; i < matches.size() && i < offset + limit; ++i) {
    Json entry = Metadata(*matches[i]);
    entry["SecretVersionsToStages"] = VersionsToStages(*matches[i]);
    list.push_back(std::move(entry));
  }
  Json response = {{"SecretList", std::move(list)}};
  if (offset + limit < matches.size()) response["NextToken"] = MakeNextToken(offset + limit);
  return response;
}

AwsResult SecretsService::Impl::DeleteSecret(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  AWS_ASSIGN_OR_RETURN(std::optional<int64_t> window,
                       GetOptionalInt(req, "RecoveryWindowInDays", INT64_MIN, INT64_MAX));
  AWS_ASSIGN_OR_RETURN(std::optional<bool> force,
                       GetOptionalBool(req, "ForceDeleteWithoutRecovery"));
  if (window && force.value_or(false)) {
    return Error("InvalidParameterException",
                 "You can't use ForceDeleteWithoutRecovery in conjunction with "
                 "RecoveryWindowInDays.");
  }
  if (window && (*window < 7 || *window > 30)) {
    return Error("InvalidParameterException",
                 "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  }

  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("DeleteSecret", secret_id, ctx));
  if (r == nullptr) return NotFound();
  const absl::Time now = clock.Now();
  Json response = {{"ARN", r->arn}, {"Name", r->name}};
  if (force.value_or(false)) {
    // Also allowed while a deletion is scheduled: it ends the recovery window now.
    response["DeletionDate"] = EpochSeconds(now);
    const std::string name = r->name;
    if (!store.Remove(name).ok()) return InternalServiceError();
    return response;
  }
  if (r->deletion_date) return MarkedForDeletion();
  SecretRecord updated = r->Clone();
  updated.deletion_date = now + absl::Hours(24) * window.value_or(30);
  response["DeletionDate"] = EpochSeconds(*updated.deletion_date);
  if (!store.Save(std::move(updated)).ok()) return InternalServiceError();
  return response;
}

AwsResult SecretsService::Impl::RestoreSecret(const Json& req, const CallContext& ctx) {
  AWS_ASSIGN_OR_RETURN(std::string secret_id, GetString(req, "SecretId", 2048));
  absl::MutexLock lock(&mu);
  AWS_ASSIGN_OR_RETURN(const SecretRecord* r, ResolveAuthorized("RestoreSecret", secret_id, ctx));
  if (r == nullptr) return NotFound();
  Json response = {{"ARN", r->arn}, {"Name", r->name}};
  if (!r->deletion_date) return response;
  SecretRecord updated = r->Clone();
  updated.deletion_date.reset();
  if (!store.Save(std::move(updated)).ok()) return InternalServiceError();
  return response;
}

absl::StatusOr<std::unique_ptr<SecretsService>> SecretsService::Open(const std::string& state_dir,
                                                                     IdentityStore& identity,
                                                                     const Clock& clock) {
  const std::string delegate_json = Json{
      {"Version", "2012-10-17"},
      {"Statement",
       Json::array(
           {{{"Sid", "DelegateToIdentityPolicies"},
             {"Effect", "Allow"},
             {"Principal",
              {{"AWS", absl::StrCat("arn:aws:iam::", identity.options().account, ":root")}}},
             {"Action", "secretsmanager:*"},
             {"Resource", "*"}}})}}.dump();
  ASSIGN_OR_RETURN(policy::Policy delegate,
                   policy::Policy::Parse(delegate_json, policy::PolicyKind::kKeyPolicy));
  ASSIGN_OR_RETURN(SecretsStore store, SecretsStore::Open(state_dir));
  return std::unique_ptr<SecretsService>(new SecretsService(
      std::make_unique<Impl>(std::move(store), identity, clock, std::move(delegate))));
}

SecretsService::SecretsService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecretsService::~SecretsService() = default;

AwsResult SecretsService::Handle(std::string_view operation, const Json& request,
                                 const CallContext& context) {
  if (!request.is_object()) {
    return AwsError{"SerializationException", "The request body must be a JSON object", 400};
  }
  if (operation == "CreateSecret") return impl_->CreateSecret(request, context);
  if (operation == "GetSecretValue") return impl_->GetSecretValue(request, context);
  if (operation == "PutSecretValue") return impl_->PutSecretValue(request, context);
  if (operation == "DescribeSecret") return impl_->DescribeSecret(request, context);
  if (operation == "ListSecrets") return impl_->ListSecrets(request, context);
  if (operation == "DeleteSecret") return impl_->DeleteSecret(request, context);
  if (operation == "RestoreSecret") return impl_->RestoreSecret(request, context);
  if (operation == "UpdateSecret") return impl_->UpdateSecret(request, context);
  return AwsError{
      "UnknownOperationException",
      absl::StrCat("Secrets Manager operation ", Absl(operation), " is not supported by local-aws"),
      400};
}

}  // namespace lockout::localaws
