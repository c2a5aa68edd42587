#include "src/localaws/identity.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {
namespace {

using Json = nlohmann::json;

constexpr char kKeyAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string RandomFrom(const char* alphabet, size_t alphabet_size, size_t n) {
  Bytes r = crypto::RandomBytes(n);
  std::string out(n, 'A');
  for (size_t i = 0; i < n; ++i) out[i] = alphabet[r[i] % alphabet_size];
  return out;
}

std::string IdentityPolicyJson(const std::vector<std::string>& actions) {
  Json stmt = {{"Effect", "Allow"}, {"Action", actions}, {"Resource", "*"}};
  return Json{{"Version", "2012-10-17"}, {"Statement", Json::array({stmt})}}.dump();
}

std::string TrustPolicyJson(const Json& principal) {
  Json stmt = {{"Effect", "Allow"},
               {"Principal", principal},
               {"Action", "sts:AssumeRole"},
               {"Resource", "*"}};
  return Json{{"Version", "2012-10-17"}, {"Statement", Json::array({stmt})}}.dump();
}

// AWS-style unique ids (AIDA..., AROA...): a prefix and 17 characters derived from the ARN, so
// they stay the same across restarts.
std::string UniqueId(std::string_view prefix, std::string_view arn) {
  crypto::Sha256Digest h = crypto::Sha256(AsBytes(arn));
  std::string out(prefix);
  for (size_t i = 0; i < 17; ++i) out.push_back(kKeyAlphabet[h[i] % 32]);
  return out;
}

Json KeyToJson(const auto& key) {
  Json j = {{"access_key_id", key.access_key_id},
            {"secret_access_key", std::string(key.secret.RevealAsString())}};
  if (!key.session_token.empty()) j["session_token"] = key.session_token;
  if (key.issued) j["issued_ms"] = absl::ToUnixMillis(*key.issued);
  if (key.expiration) j["expiration_ms"] = absl::ToUnixMillis(*key.expiration);
  if (!key.role_name.empty()) {
    j["role"] = key.role_name;
    j["session_name"] = key.session_name;
  }
  return j;
}

}  // namespace

IdentityStore::IdentityStore(std::string path, IdentityOptions options, const Clock& clock)
    : path_(std::move(path)), options_(std::move(options)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(const std::string& state_dir,
                                                                   IdentityOptions options,
                                                                   const Clock& clock) {
  auto store = std::unique_ptr<IdentityStore>(
      new IdentityStore(state_dir + "/identity.json", std::move(options), clock));
  const IdentityOptions& o = store->options_;
  ASSIGN_OR_RETURN(store->root_, policy::Principal::AccountRoot(o.account));
  ASSIGN_OR_RETURN(store->admin_, policy::Principal::User(o.account, o.admin_user_name));
  ASSIGN_OR_RETURN(store->instance_,
                   policy::Principal::AssumedRole(store->instance_role_arn(), o.instance_id));
  ASSIGN_OR_RETURN(
      policy::Policy admin_policy,
      policy::Policy::Parse(IdentityPolicyJson({"kms:*", "secretsmanager:*", "sts:AssumeRole"}),
                            policy::PolicyKind::kIdentityPolicy));
  store->admin_policies_.push_back(std::move(admin_policy));
  // The instance role policy of docs/TUTORIAL-AWS.md (the seed's, plus what create-key needs to
  // replace a secret and the relay and doctor need to describe it); no kms:Decrypt.
  ASSIGN_OR_RETURN(
      policy::Policy instance_policy,
      policy::Policy::Parse(
          IdentityPolicyJson({"kms:Encrypt", "secretsmanager:CreateSecret",
                              "secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue",
                              "secretsmanager:DescribeSecret"}),
          policy::PolicyKind::kIdentityPolicy));
  store->instance_policies_.push_back(std::move(instance_policy));
  for (const std::string& name : o.assumable_roles) {
    RoleInfo role;
    role.name = name;
    role.arn = absl::StrCat("arn:aws:iam::", o.account, ":role/", name);
    // Validates the name (no ':' or wildcards) the way every principal is validated.
    ASSIGN_OR_RETURN(policy::Principal unused, policy::Principal::AssumedRole(role.arn, "check"));
    static_cast<void>(unused);
    role.role_id = UniqueId("AROA", role.arn);
    ASSIGN_OR_RETURN(policy::Policy trust,
                     policy::Policy::Parse(TrustPolicyJson({{"AWS", store->root_.arn}}),
                                           policy::PolicyKind::kKeyPolicy));
    role.trust_policy = std::move(trust);
    ASSIGN_OR_RETURN(policy::Policy p,
                     policy::Policy::Parse(IdentityPolicyJson({"kms:*", "secretsmanager:*"}),
                                           policy::PolicyKind::kIdentityPolicy));
    role.identity_policies.push_back(std::move(p));
    store->roles_.push_back(std::move(role));
  }
  {
    RoleInfo instance_role;
    instance_role.name = o.instance_role_name;
    instance_role.arn = store->instance_role_arn();
    instance_role.role_id = UniqueId("AROA", instance_role.arn);
    ASSIGN_OR_RETURN(policy::Policy trust,
                     policy::Policy::Parse(TrustPolicyJson({{"Service", "ec2.amazonaws.com"}}),
                                           policy::PolicyKind::kKeyPolicy));
    instance_role.trust_policy = std::move(trust);
    store->roles_.push_back(std::move(instance_role));
  }
  RETURN_IF_ERROR(store->Load());
  return store;
}

std::string IdentityStore::instance_role_arn() const {
  return absl::StrCat("arn:aws:iam::", options_.account, ":role/", options_.instance_role_name);
}

IdentityStore::Key IdentityStore::NewKey(std::string_view prefix) {
  Key k;
  k.access_key_id = absl::StrCat(Absl(prefix), RandomFrom(kKeyAlphabet, 32, 16));
  std::string secret = Base64Encode(crypto::RandomBytes(30));  // 40 characters, like AWS
  k.secret = SecretBytes::CopyFrom(secret);
  WipeString(secret);
  return k;
}

IssuedCredentials IdentityStore::Issue(const Key& key) {
  return IssuedCredentials{key.access_key_id, SecretBytes::CopyFrom(key.secret.Reveal()),
                           key.session_token, key.expiration};
}

absl::Status IdentityStore::Load() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> text = ReadFileString(path_, 1 << 20);
  if (absl::IsNotFound(text.status())) {
    root_key_ = NewKey("AKIA");
    admin_key_ = NewKey("AKIA");
    return SaveLocked();
  }
  if (!text.ok()) return text.status();
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto read_key = [](const Json& k, Key* out) -> bool {
    if (!k.is_object() || !k.contains("access_key_id") || !k.contains("secret_access_key")) {
      return false;
    }
    out->access_key_id = k["access_key_id"].get<std::string>();
    std::string secret = k["secret_access_key"].get<std::string>();
    out->secret = SecretBytes::CopyFrom(secret);
    WipeString(secret);
    if (k.contains("session_token")) out->session_token = k["session_token"].get<std::string>();
    if (k.contains("issued_ms")) out->issued = absl::FromUnixMillis(k["issued_ms"].get<int64_t>());
    if (k.contains("expiration_ms")) {
      out->expiration = absl::FromUnixMillis(k["expiration_ms"].get<int64_t>());
    }
    return true;
  };
  try {
    if (!j.is_object() || j.value("account", "") != options_.account ||
        !read_key(j["root"], &root_key_) || !read_key(j["admin"], &admin_key_)) {
      return absl::DataLossError(absl::StrCat(path_,
                                              " is not a local-aws identity file for account ",
                                              options_.account, "; use another --state directory"));
    }
    for (const auto& s : j.value("sessions", Json::array())) {
      Key k;
      if (read_key(s, &k)) sessions_.push_back(std::move(k));
    }
    for (const auto& s : j.value("role_sessions", Json::array())) {
      Key k;
      if (!read_key(s, &k) || !s.contains("role") || !s.contains("session_name")) continue;
      k.role_name = s["role"].get<std::string>();
      k.session_name = s["session_name"].get<std::string>();
      const RoleInfo* role =
          FindRole(absl::StrCat("arn:aws:iam::", options_.account, ":role/", k.role_name));
      if (role == nullptr) continue;  // a role no longer configured: its sessions end
      absl::StatusOr<policy::Principal> p =
          policy::Principal::AssumedRole(role->arn, k.session_name);
      if (!p.ok()) continue;
      k.principal = *std::move(p);
      role_sessions_.push_back(std::move(k));
    }
  } catch (const Json::exception&) {
    return absl::DataLossError(absl::StrCat(path_, " is corrupt"));
  }
  return absl::OkStatus();
}

absl::Status IdentityStore::SaveLocked() {
  Json j = {{"account", options_.account},
            {"root", KeyToJson(root_key_)},
            {"admin", KeyToJson(admin_key_)},
            {"sessions", Json::array()}};
  for (const auto& s : sessions_) j["sessions"].push_back(KeyToJson(s));
  j["role_sessions"] = Json::array();
  for (const auto& s : role_sessions_) j["role_sessions"].push_back(KeyToJson(s));
  std::string text = j.dump(1);
  absl::Status s = WriteFileAtomic(path_, AsBytes(text), 0600);
  WipeString(text);
  return s;
}

IssuedCredentials IdentityStore::RootCredentials() const {
  absl::MutexLock lock(&mu_);
  return Issue(root_key_);
}

IssuedCredentials IdentityStore::AdminCredentials() const {
  absl::MutexLock lock(&mu_);
  return Issue(admin_key_);
}

absl::StatusOr<IssuedCredentials> IdentityStore::InstanceCredentials() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  bool changed = false;
  // Drop expired sessions.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->expiration && *it->expiration <= now) {
      it = sessions_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (sessions_.empty() || !sessions_.back().issued ||
      now - *sessions_.back().issued >= options_.session_lifetime / 2) {
    Key k = NewKey("ASIA");
    k.session_token = Base64Encode(crypto::RandomBytes(96));
    k.issued = now;
    k.expiration = now + options_.session_lifetime;
    sessions_.push_back(std::move(k));
    changed = true;
  }
  if (changed) RETURN_IF_ERROR(SaveLocked());
  return Issue(sessions_.back());
}

const RoleInfo* IdentityStore::FindRole(std::string_view role_arn) const {
  for (const RoleInfo& r : roles_) {
    if (r.arn == role_arn) return &r;
  }
  return nullptr;
}

std::string IdentityStore::UserId(const policy::Principal& principal) const {
  switch (principal.type) {
    case policy::PrincipalType::kAccountRoot:
      return principal.account;
    case policy::PrincipalType::kUser:
      return UniqueId("AIDA", principal.arn);
    case policy::PrincipalType::kAssumedRole: {
      const RoleInfo* role = FindRole(principal.role_arn);
      const std::string role_id =
          role != nullptr ? role->role_id : UniqueId("AROA", principal.role_arn);
      return absl::StrCat(role_id, ":", principal.arn.substr(principal.arn.rfind('/') + 1));
    }
  }
  return principal.arn;
}

absl::StatusOr<IssuedCredentials> IdentityStore::IssueRoleSession(
    const RoleInfo& role, std::string_view session_name, absl::Duration duration,
    policy::Principal* principal_out) {
  ASSIGN_OR_RETURN(policy::Principal principal,
                   policy::Principal::AssumedRole(role.arn, session_name));
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  std::erase_if(role_sessions_,
                [now](const Key& k) { return k.expiration && *k.expiration <= now; });
  while (!role_sessions_.empty() && role_sessions_.size() >= options_.max_role_sessions) {
    role_sessions_.erase(role_sessions_.begin());
  }
  Key k = NewKey("ASIA");
  k.session_token = Base64Encode(crypto::RandomBytes(96));
  k.issued = now;
  k.expiration = now + duration;
  k.role_name = role.name;
  k.session_name = std::string(session_name);
  k.principal = principal;
  IssuedCredentials issued = Issue(k);
  role_sessions_.push_back(std::move(k));
  RETURN_IF_ERROR(SaveLocked());
  if (principal_out != nullptr) *principal_out = std::move(principal);
  return issued;
}

std::optional<aws::VerifierCredential> IdentityStore::Lookup(std::string_view access_key_id) const {
  absl::MutexLock lock(&mu_);
  auto make = [](const Key& k, const policy::Principal& p) {
    aws::VerifierCredential c;
    c.secret_access_key = SecretBytes::CopyFrom(k.secret.Reveal());
    c.principal = p.arn;
    if (!k.session_token.empty()) c.session_token = k.session_token;
    c.expiration = k.expiration;
    return c;
  };
  if (access_key_id == root_key_.access_key_id) return make(root_key_, root_);
  if (access_key_id == admin_key_.access_key_id) return make(admin_key_, admin_);
  for (const auto& s : sessions_) {
    if (access_key_id == s.access_key_id) return make(s, instance_);
  }
  for (const auto& s : role_sessions_) {
    if (access_key_id == s.access_key_id) return make(s, *s.principal);
  }
  return std::nullopt;
}

std::optional<policy::Principal> IdentityStore::PrincipalForKey(
    std::string_view access_key_id) const {
  absl::MutexLock lock(&mu_);
  if (access_key_id == root_key_.access_key_id) return root_;
  if (access_key_id == admin_key_.access_key_id) return admin_;
  for (const auto& s : sessions_) {
    if (access_key_id == s.access_key_id) return instance_;
  }
  for (const auto& s : role_sessions_) {
    if (access_key_id == s.access_key_id) return *s.principal;
  }
  return std::nullopt;
}

absl::Span<const policy::Policy> IdentityStore::IdentityPolicies(
    const policy::Principal& principal) const {
  if (principal.arn == admin_.arn) return admin_policies_;
  if (principal.type == policy::PrincipalType::kAssumedRole) {
    if (principal.role_arn == instance_role_arn()) return instance_policies_;
    if (const RoleInfo* role = FindRole(principal.role_arn)) return role->identity_policies;
  }
  return {};
}

}  // namespace lockout::localaws
