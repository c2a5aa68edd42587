#include "src/localaws/kms_key_store.h"

#include <sys/stat.h>

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
    auto policy = Policy::Parse(j.at("Policy").get<std::string>(), PolicyKind::kKeyPolicy);
    if (!policy.ok()) return Corrupt(path, "its key policy does not parse");
    key.policy = std::make_shared<const Policy>(*std::move(policy));
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

}  // namespace

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
  RETURN_IF_ERROR(store->Load());
  return store;
}

std::string KmsKeyStore::KeyPath(const std::string& id) const {
  return absl::StrCat(dir_, "/keys/", id, ".json");
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

}  // namespace lockout::localaws
