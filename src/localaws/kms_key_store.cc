#include "src/localaws/kms_key_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/localaws/kms_ciphertext.h"

namespace lockout::localaws {
namespace {

using Json = nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr size_t kMaxKeyFileSize = 256 * 1024;  // policy (32 KiB) + tags + metadata
constexpr size_t kMaxAliasFileSize = 16 << 20;
constexpr size_t kMaxGrantFileSize = 64 << 20;  // 50,000 grants (AWS's per-key limit)

absl::Status Corrupt(const std::string& path, std::string_view what) {
  return absl::DataLossError(
      absl::StrCat("local KMS state file ", path, " is not valid: ", Absl(what)));
}

std::optional<KmsKeyState> ParseState(std::string_view s) {
  if (s == "Enabled") return KmsKeyState::kEnabled;
  if (s == "Disabled") return KmsKeyState::kDisabled;
  if (s == "PendingDeletion") return KmsKeyState::kPendingDeletion;
  return std::nullopt;
}

absl::Status MakeDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", ec.message()));
  }
  chmod(path.c_str(), 0700);
  return absl::OkStatus();
}

// Parses one key file. Every field is checked; the json holding the material is wiped after.
absl::StatusOr<KmsKey> ParseKeyFile(const std::string& path, std::string text) {
  auto parsed = ParseJson(text, kMaxKeyFileSize);
  WipeString(text);
  if (!parsed.ok()) return Corrupt(path, "not JSON");
  Json j = *std::move(parsed);
  KmsKey key;
  absl::Status result = absl::OkStatus();
  try {
    if (!j.is_object() || j.value("Version", 0) != kFormatVersion) {
      return Corrupt(path, "unknown format version");
    }
    key.id = j.at("KeyId").get<std::string>();
    key.creation_ms = j.at("CreationDateMs").get<int64_t>();
    key.description = j.at("Description").get<std::string>();
    auto state = ParseState(j.at("KeyState").get<std::string>());
    if (!state) return Corrupt(path, "unknown KeyState");
    key.state = *state;
    if (key.state == KmsKeyState::kPendingDeletion) {
      key.deletion_ms = j.at("DeletionDateMs").get<int64_t>();
      key.pending_window_days = j.at("PendingWindowInDays").get<int>();
    }
    auto policy =
        policy::Policy::Parse(j.at("Policy").get<std::string>(), policy::PolicyKind::kKeyPolicy);
    if (!policy.ok()) return Corrupt(path, "its key policy does not parse");
    key.policy = std::make_shared<const policy::Policy>(*std::move(policy));
    for (const auto& [k, v] : j.at("Tags").items()) key.tags[k] = v.get<std::string>();
    std::string& b64 = j.at("KeyMaterial").get_ref<std::string&>();
    auto material = Base64Decode(b64);
    WipeString(b64);
    if (!material.ok() || material->size() != kKmsKeyMaterialSize) {
      if (material.ok()) WipeBytes(*material);
      return Corrupt(path, "KeyMaterial is not 32 bytes of base64");
    }
    key.material = std::make_shared<const SecretBytes>(SecretBytes::CopyFrom(*material));
    WipeBytes(*material);
  } catch (const Json::exception&) {
    result = Corrupt(path, "a field is missing or has the wrong type");
  }
  if (j.is_object() && j.contains("KeyMaterial") && j["KeyMaterial"].is_string()) {
    WipeString(j["KeyMaterial"].get_ref<std::string&>());
  }
  RETURN_IF_ERROR(result);
  if (!IsKmsKeyId(key.id)) return Corrupt(path, "KeyId is not a key id");
  return key;
}

std::string SerializeKey(const KmsKey& key) {
  Json j = {{"Version", kFormatVersion},
            {"KeyId", key.id},
            {"CreationDateMs", key.creation_ms},
            {"Description", key.description},
            {"KeyState", std::string(KmsKeyStateName(key.state))},
            {"Policy", key.policy->text()},
            {"Tags", key.tags}};
  if (key.deletion_ms) {
    j["DeletionDateMs"] = *key.deletion_ms;
    j["PendingWindowInDays"] = key.pending_window_days;
  }
  std::string b64 = Base64Encode(key.material->Reveal());
  j["KeyMaterial"] = b64;
  WipeString(b64);
  std::string text = j.dump(2);
  WipeString(j["KeyMaterial"].get_ref<std::string&>());
  return text;
}

Json SerializeGrant(const KmsGrant& g) {
  Json j = {{"GrantId", g.id},
            {"KeyId", g.key_id},
            {"Name", g.name},
            {"CreationDateMs", g.creation_ms},
            {"IssuingAccount", g.issuing_account},
            {"GranteePrincipal", g.grantee_principal},
            {"RetiringPrincipal", g.retiring_principal},
            {"Operations", g.operations},
            {"Constraint", std::string(KmsGrantConstraintName(g.constraint))},
            {"ConstraintContext", g.constraint_context}};
  return j;
}

// Parses one grant of a grant file; nullopt when a field is missing, mistyped or invalid.
std::optional<KmsGrant> ParseGrant(const Json& j) {
  KmsGrant g;
  try {
    g.id = j.at("GrantId").get<std::string>();
    g.key_id = j.at("KeyId").get<std::string>();
    g.name = j.at("Name").get<std::string>();
    g.creation_ms = j.at("CreationDateMs").get<int64_t>();
    g.issuing_account = j.at("IssuingAccount").get<std::string>();
    g.grantee_principal = j.at("GranteePrincipal").get<std::string>();
    g.retiring_principal = j.at("RetiringPrincipal").get<std::string>();
    g.operations = j.at("Operations").get<std::vector<std::string>>();
    const std::string constraint = j.at("Constraint").get<std::string>();
    if (constraint == "EncryptionContextEquals") {
      g.constraint = KmsGrantConstraint::kEncryptionContextEquals;
    } else if (constraint == "EncryptionContextSubset") {
      g.constraint = KmsGrantConstraint::kEncryptionContextSubset;
    } else if (!constraint.empty()) {
      return std::nullopt;
    }
    g.constraint_context = j.at("ConstraintContext").get<std::map<std::string, std::string>>();
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  if (!IsKmsGrantId(g.id) || !IsKmsKeyId(g.key_id) || g.operations.empty() ||
      g.grantee_principal.empty()) {
    return std::nullopt;
  }
  return g;
}

}  // namespace

bool IsKmsGrantId(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string_view KmsGrantConstraintName(KmsGrantConstraint constraint) {
  switch (constraint) {
    case KmsGrantConstraint::kEncryptionContextEquals:
      return "EncryptionContextEquals";
    case KmsGrantConstraint::kEncryptionContextSubset:
      return "EncryptionContextSubset";
    case KmsGrantConstraint::kNone:
      break;
  }
  return "";
}

std::string_view KmsKeyStateName(KmsKeyState state) {
  switch (state) {
    case KmsKeyState::kEnabled:
      return "Enabled";
    case KmsKeyState::kDisabled:
      return "Disabled";
    case KmsKeyState::kPendingDeletion:
      return "PendingDeletion";
  }
  return "Unavailable";
}

absl::StatusOr<std::unique_ptr<KmsKeyStore>> KmsKeyStore::Open(const std::string& dir) {
  auto store = std::unique_ptr<KmsKeyStore>(new KmsKeyStore(dir));
  RETURN_IF_ERROR(MakeDir(dir));
  RETURN_IF_ERROR(MakeDir(dir + "/keys"));
  RETURN_IF_ERROR(MakeDir(dir + "/grants"));
  RETURN_IF_ERROR(store->Load());
  return store;
}

std::string KmsKeyStore::KeyPath(const std::string& id) const {
  return absl::StrCat(dir_, "/keys/", id, ".json");
}

std::string KmsKeyStore::GrantPath(const std::string& key_id) const {
  return absl::StrCat(dir_, "/grants/", key_id, ".json");
}

absl::Status KmsKeyStore::LoadGrants() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/grants", ec)) {
    std::string name = entry.path().filename().string();
    if (!absl::EndsWith(name, ".json")) continue;  // see Load(): temporary files
    std::string path = entry.path().string();
    std::string key_id = name.substr(0, name.size() - 5);
    if (keys_.count(key_id) == 0) return Corrupt(path, "it names a key that does not exist");
    ASSIGN_OR_RETURN(std::string text, ReadFileString(path, kMaxGrantFileSize));
    auto parsed = ParseJson(text, kMaxGrantFileSize);
    if (!parsed.ok()) return Corrupt(path, "not JSON");
    const Json& j = *parsed;
    if (!j.is_object() || j.value("Version", 0) != kFormatVersion || !j.contains("Grants") ||
        !j["Grants"].is_array()) {
      return Corrupt(path, "unknown format version");
    }
    std::map<std::string, KmsGrant>& grants = grants_[key_id];
    for (const Json& g : j["Grants"]) {
      std::optional<KmsGrant> grant = ParseGrant(g);
      if (!grant) return Corrupt(path, "a grant is missing a field or has an invalid one");
      if (grant->key_id != key_id) return Corrupt(path, "a grant is on another key");
      std::string id = grant->id;
      grants[id] = *std::move(grant);
    }
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot list ", dir_, "/grants: ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status KmsKeyStore::Load() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/keys", ec)) {
    std::string name = entry.path().filename().string();
    // WriteFileAtomic leaves "<name>.tmp.<pid>" behind only if it died mid-write: the rename
    // never happened, so the old file (if any) is the acknowledged state.
    if (!absl::EndsWith(name, ".json")) continue;
    std::string path = entry.path().string();
    ASSIGN_OR_RETURN(std::string text, ReadFileString(path, kMaxKeyFileSize));
    ASSIGN_OR_RETURN(KmsKey key, ParseKeyFile(path, std::move(text)));
    if (name != key.id + ".json") return Corrupt(path, "file name differs from its KeyId");
    std::string id = key.id;
    keys_[id] = std::make_shared<const KmsKey>(std::move(key));
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir_, "/keys: ", ec.message()));
  RETURN_IF_ERROR(LoadGrants());

  const std::string alias_path = dir_ + "/aliases.json";
  if (!std::filesystem::exists(alias_path, ec)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, ReadFileString(alias_path, kMaxAliasFileSize));
  auto parsed = ParseJson(text, kMaxAliasFileSize);
  if (!parsed.ok()) return Corrupt(alias_path, "not JSON");
  try {
    const Json& j = *parsed;
    if (!j.is_object() || j.value("Version", 0) != kFormatVersion) {
      return Corrupt(alias_path, "unknown format version");
    }
    for (const Json& a : j.at("Aliases")) {
      KmsAlias alias;
      alias.name = a.at("AliasName").get<std::string>();
      alias.target_key_id = a.at("TargetKeyId").get<std::string>();
      alias.creation_ms = a.at("CreationDateMs").get<int64_t>();
      alias.updated_ms = a.at("LastUpdatedDateMs").get<int64_t>();
      if (!absl::StartsWith(alias.name, "alias/")) return Corrupt(alias_path, "bad AliasName");
      if (keys_.count(alias.target_key_id) == 0) {
        return Corrupt(alias_path, "an alias names a key that does not exist");
      }
      aliases_[alias.name] = alias;
    }
  } catch (const Json::exception&) {
    return Corrupt(alias_path, "a field is missing or has the wrong type");
  }
  return absl::OkStatus();
}

std::shared_ptr<const KmsKey> KmsKeyStore::FindKey(const std::string& id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const KmsKey>> KmsKeyStore::Keys() const {
  std::vector<std::shared_ptr<const KmsKey>> out;
  out.reserve(keys_.size());
  for (const auto& [id, key] : keys_) out.push_back(key);
  return out;
}

absl::Status KmsKeyStore::PutKey(KmsKey key) {
  if (!IsKmsKeyId(key.id) || key.policy == nullptr || key.material == nullptr ||
      key.material->size() != kKmsKeyMaterialSize) {
    return absl::InvalidArgumentError("incomplete key record");
  }
  std::string text = SerializeKey(key);
  absl::Status written = WriteFileAtomic(KeyPath(key.id), AsBytes(text), 0600);
  WipeString(text);
  RETURN_IF_ERROR(written);
  std::string id = key.id;
  keys_[id] = std::make_shared<const KmsKey>(std::move(key));
  return absl::OkStatus();
}

std::optional<KmsAlias> KmsKeyStore::FindAlias(const std::string& name) const {
  auto it = aliases_.find(name);
  if (it == aliases_.end()) return std::nullopt;
  return it->second;
}

std::vector<KmsAlias> KmsKeyStore::Aliases() const {
  std::vector<KmsAlias> out;
  out.reserve(aliases_.size());
  for (const auto& [name, alias] : aliases_) out.push_back(alias);
  return out;
}

absl::Status KmsKeyStore::SaveAliases(const std::map<std::string, KmsAlias>& aliases) const {
  Json list = Json::array();
  for (const auto& [name, a] : aliases) {
    list.push_back({{"AliasName", a.name},
                    {"TargetKeyId", a.target_key_id},
                    {"CreationDateMs", a.creation_ms},
                    {"LastUpdatedDateMs", a.updated_ms}});
  }
  Json j = {{"Version", kFormatVersion}, {"Aliases", std::move(list)}};
  std::string text = j.dump(2);
  return WriteFileAtomic(dir_ + "/aliases.json", AsBytes(text), 0600);
}

absl::Status KmsKeyStore::PutAlias(KmsAlias alias) {
  if (keys_.count(alias.target_key_id) == 0) {
    return absl::InvalidArgumentError("alias target key does not exist");
  }
  std::map<std::string, KmsAlias> next = aliases_;
  next[alias.name] = alias;
  RETURN_IF_ERROR(SaveAliases(next));
  aliases_ = std::move(next);
  return absl::OkStatus();
}

absl::Status KmsKeyStore::DeleteAlias(const std::string& name) {
  if (aliases_.count(name) == 0) return absl::NotFoundError("no such alias");
  std::map<std::string, KmsAlias> next = aliases_;
  next.erase(name);
  RETURN_IF_ERROR(SaveAliases(next));
  aliases_ = std::move(next);
  return absl::OkStatus();
}

std::optional<KmsGrant> KmsKeyStore::FindGrant(const std::string& key_id,
                                               const std::string& grant_id) const {
  auto k = grants_.find(key_id);
  if (k == grants_.end()) return std::nullopt;
  auto g = k->second.find(grant_id);
  if (g == k->second.end()) return std::nullopt;
  return g->second;
}

std::optional<KmsGrant> KmsKeyStore::FindGrantById(const std::string& grant_id) const {
  for (const auto& [key_id, grants] : grants_) {
    auto g = grants.find(grant_id);
    if (g != grants.end()) return g->second;
  }
  return std::nullopt;
}

std::optional<KmsGrant> KmsKeyStore::FindGrantWhere(
    const std::string& key_id, const std::function<bool(const KmsGrant&)>& pred) const {
  auto k = grants_.find(key_id);
  if (k == grants_.end()) return std::nullopt;
  for (const auto& [id, grant] : k->second) {
    if (pred(grant)) return grant;
  }
  return std::nullopt;
}

std::vector<KmsGrant> KmsKeyStore::Grants(const std::string& key_id) const {
  std::vector<KmsGrant> out;
  auto k = grants_.find(key_id);
  if (k == grants_.end()) return out;
  out.reserve(k->second.size());
  for (const auto& [id, grant] : k->second) out.push_back(grant);
  return out;
}

std::vector<KmsGrant> KmsKeyStore::AllGrants() const {
  std::vector<KmsGrant> out;
  for (const auto& [key_id, grants] : grants_) {
    for (const auto& [id, grant] : grants) out.push_back(grant);
  }
  return out;
}

absl::Status KmsKeyStore::SaveGrants(const std::string& key_id,
                                     const std::map<std::string, KmsGrant>& grants) const {
  Json list = Json::array();
  for (const auto& [id, g] : grants) list.push_back(SerializeGrant(g));
  Json j = {{"Version", kFormatVersion}, {"Grants", std::move(list)}};
  std::string text = j.dump(2);
  return WriteFileAtomic(GrantPath(key_id), AsBytes(text), 0600);
}

absl::Status KmsKeyStore::PutGrant(KmsGrant grant) {
  if (keys_.count(grant.key_id) == 0 || !IsKmsGrantId(grant.id) || grant.operations.empty()) {
    return absl::InvalidArgumentError("incomplete grant record");
  }
  std::map<std::string, KmsGrant> next = grants_[grant.key_id];
  std::string key_id = grant.key_id;
  std::string id = grant.id;
  next[id] = std::move(grant);
  RETURN_IF_ERROR(SaveGrants(key_id, next));
  grants_[key_id] = std::move(next);
  return absl::OkStatus();
}

absl::Status KmsKeyStore::DeleteGrant(const std::string& key_id, const std::string& grant_id) {
  auto k = grants_.find(key_id);
  if (k == grants_.end() || k->second.count(grant_id) == 0) {
    return absl::NotFoundError("no such grant");
  }
  std::map<std::string, KmsGrant> next = k->second;
  next.erase(grant_id);
  RETURN_IF_ERROR(SaveGrants(key_id, next));
  k->second = std::move(next);
  return absl::OkStatus();
}

}  // namespace lockout::localaws
