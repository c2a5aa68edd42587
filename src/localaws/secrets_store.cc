#include "src/localaws/secrets_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kFormat = "lockout-secretsmanager-v1";
constexpr std::string_view kSubdir = "secretsmanager";
constexpr std::string_view kSuffix = ".json";
// 100 versions of 64 KiB in base64 plus metadata stays well below this.
constexpr size_t kMaxRecordFileBytes = 16u << 20;

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("secretsmanager record: ", Absl(what)));
}

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
    }
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", dir));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot fsync ", dir));
  return absl::OkStatus();
}

// Milliseconds since the epoch: the precision AWS reports dates with.
int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

absl::StatusOr<std::string> GetStr(const Json& j, const char* field, bool required = true) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (required) return Corrupt(absl::StrCat("missing field ", field));
    return std::string();
  }
  if (!it->is_string()) return Corrupt(absl::StrCat("field ", field, " is not a string"));
  return it->get<std::string>();
}

absl::StatusOr<std::optional<absl::Time>> GetTime(const Json& j, const char* field, bool required) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (required) return Corrupt(absl::StrCat("missing field ", field));
    return std::optional<absl::Time>();
  }
  if (!it->is_number_integer()) return Corrupt(absl::StrCat("field ", field, " is not an integer"));
  return std::optional<absl::Time>(absl::FromUnixMillis(it->get<int64_t>()));
}

bool IsValidVersionId(std::string_view id) { return id.size() >= 32 && id.size() <= 64; }

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX (six random letters or digits).
bool ArnMatchesName(std::string_view arn, std::string_view name) {
  constexpr std::string_view kPrefix = "arn:aws:secretsmanager:";
  const std::string tail = absl::StrCat(":secret:", Absl(name), "-");
  if (arn.size() < kPrefix.size() + tail.size() + 6 || arn.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  std::string_view suffix = arn.substr(arn.size() - 6);
  for (char c : suffix) {
    if (!IsAlnum(c)) return false;
  }
  return arn.substr(arn.size() - 6 - tail.size(), tail.size()) == tail;
}

}  // namespace

bool IsValidSecretName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSecretNameLength) return false;
  for (char c : name) {
    const bool ok = IsAlnum(c) || std::string_view("/_+=.@-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool SecretVersion::HasStage(std::string_view stage) const {
  for (const auto& s : stages) {
    if (s == stage) return true;
  }
  return false;
}

SecretVersion SecretVersion::Clone() const {
  SecretVersion v;
  v.id = id;
  v.stages = stages;
  v.created = created;
  v.binary = binary;
  v.value = SecretBytes::CopyFrom(value.Reveal());
  return v;
}

const SecretVersion* SecretRecord::FindStage(std::string_view stage) const {
  for (const auto& v : versions) {
    if (v.HasStage(stage)) return &v;
  }
  return nullptr;
}

const SecretVersion* SecretRecord::FindVersion(std::string_view version_id) const {
  for (const auto& v : versions) {
    if (v.id == version_id) return &v;
  }
  return nullptr;
}

SecretRecord SecretRecord::Clone() const {
  SecretRecord r;
  r.name = name;
  r.arn = arn;
  r.description = description;
  r.kms_key_id = kms_key_id;
  r.created = created;
  r.last_changed = last_changed;
  r.last_accessed = last_accessed;
  r.deletion_date = deletion_date;
  r.tags = tags;
  r.versions.reserve(versions.size());
  for (const auto& v : versions) r.versions.push_back(v.Clone());
  return r;
}

std::string SecretsStore::Serialize(const SecretRecord& record) {
  Json versions = Json::array();
  for (const auto& v : record.versions) {
    versions.push_back({{"id", v.id},
                        {"stages", v.stages},
                        {"created_ms", Ms(v.created)},
                        {"type", v.binary ? "binary" : "string"},
                        {"value_b64", Base64Encode(v.value.Reveal())}});
  }
  Json tags = Json::array();
  for (const auto& [k, val] : record.tags) tags.push_back({{"Key", k}, {"Value", val}});
  Json j = {{"format", kFormat},
            {"name", record.name},
            {"arn", record.arn},
            {"created_ms", Ms(record.created)},
            {"last_changed_ms", Ms(record.last_changed)},
            {"tags", std::move(tags)},
            {"versions", std::move(versions)}};
  if (record.description) j["description"] = *record.description;
  if (record.kms_key_id) j["kms_key_id"] = *record.kms_key_id;
  if (record.last_accessed) j["last_accessed_ms"] = Ms(*record.last_accessed);
  if (record.deletion_date) j["deletion_ms"] = Ms(*record.deletion_date);
  std::string out = j.dump(1);
  WipeJsonStrings(j);
  return out;
}

absl::StatusOr<SecretRecord> SecretsStore::Parse(std::string_view text) {
  absl::StatusOr<Json> parsed = ParseJson(text, kMaxRecordFileBytes);
  if (!parsed.ok()) return Corrupt("not valid JSON");
  Json& j = *parsed;
  absl::Cleanup wipe = [&j] { WipeJsonStrings(j); };
  if (!j.is_object()) return Corrupt("not an object");
  ASSIGN_OR_RETURN(std::string format, GetStr(j, "format"));
  if (format != kFormat) return Corrupt("unknown format");

  SecretRecord r;
  ASSIGN_OR_RETURN(r.name, GetStr(j, "name"));
  if (!IsValidSecretName(r.name)) return Corrupt("invalid name");
  ASSIGN_OR_RETURN(r.arn, GetStr(j, "arn"));
  if (!ArnMatchesName(r.arn, r.name)) return Corrupt("arn does not match the name");
  if (j.contains("description")) {
    ASSIGN_OR_RETURN(r.description, GetStr(j, "description"));
  }
  if (j.contains("kms_key_id")) {
    ASSIGN_OR_RETURN(r.kms_key_id, GetStr(j, "kms_key_id"));
  }
  ASSIGN_OR_RETURN(std::optional<absl::Time> created, GetTime(j, "created_ms", true));
  r.created = *created;
  ASSIGN_OR_RETURN(std::optional<absl::Time> changed, GetTime(j, "last_changed_ms", true));
  r.last_changed = *changed;
  ASSIGN_OR_RETURN(r.last_accessed, GetTime(j, "last_accessed_ms", false));
  ASSIGN_OR_RETURN(r.deletion_date, GetTime(j, "deletion_ms", false));

  auto tags = j.find("tags");
  if (tags == j.end() || !tags->is_array() || tags->size() > kMaxTagsPerSecret) {
    return Corrupt("tags");
  }
  for (const auto& t : *tags) {
    if (!t.is_object()) return Corrupt("tag is not an object");
    ASSIGN_OR_RETURN(std::string key, GetStr(t, "Key"));
    ASSIGN_OR_RETURN(std::string value, GetStr(t, "Value"));
    r.tags.emplace_back(std::move(key), std::move(value));
  }

  auto versions = j.find("versions");
  if (versions == j.end() || !versions->is_array() || versions->size() > kMaxVersionsPerSecret) {
    return Corrupt("versions");
  }
  std::set<std::string> ids, stages;
  for (const auto& jv : *versions) {
    if (!jv.is_object()) return Corrupt("version is not an object");
    SecretVersion v;
    ASSIGN_OR_RETURN(v.id, GetStr(jv, "id"));
    if (!IsValidVersionId(v.id) || !ids.insert(v.id).second) return Corrupt("version id");
    auto st = jv.find("stages");
    if (st == jv.end() || !st->is_array()) return Corrupt("version stages");
    for (const auto& s : *st) {
      if (!s.is_string() || s.get_ref<const std::string&>().empty()) {
        return Corrupt("version stage");
      }
      // A staging label names at most one version of a secret.
      if (!stages.insert(s.get<std::string>()).second) return Corrupt("duplicate stage");
      v.stages.push_back(s.get<std::string>());
    }
    ASSIGN_OR_RETURN(std::optional<absl::Time> vc, GetTime(jv, "created_ms", true));
    v.created = *vc;
    ASSIGN_OR_RETURN(std::string type, GetStr(jv, "type"));
    if (type != "string" && type != "binary") return Corrupt("version type");
    v.binary = type == "binary";
    auto val = jv.find("value_b64");
    if (val == jv.end() || !val->is_string()) return Corrupt("version value");
    absl::StatusOr<Bytes> decoded = Base64Decode(val->get_ref<const std::string&>());
    if (!decoded.ok()) return Corrupt("version value is not base64");
    absl::Cleanup wipe_decoded = [&decoded] { WipeBytes(*decoded); };
    if (decoded->empty() || decoded->size() > kMaxSecretValueBytes) {
      return Corrupt("version value size");
    }
    v.value = SecretBytes::CopyFrom(ByteView(*decoded));
    r.versions.push_back(std::move(v));
  }
  return r;
}

absl::StatusOr<SecretsStore> SecretsStore::Open(const std::string& state_dir) {
  RETURN_IF_ERROR(MakeDir(state_dir));
  SecretsStore store(absl::StrCat(state_dir, "/", Absl(kSubdir)));
  RETURN_IF_ERROR(MakeDir(store.dir_));

  DIR* d = opendir(store.dir_.c_str());
  if (d == nullptr) return absl::InternalError(absl::StrCat("cannot open ", store.dir_));
  absl::Cleanup close_dir = [d] { closedir(d); };
  std::vector<std::string> files, stale;
  while (struct dirent* e = readdir(d)) {
    std::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    if (absl::StrContains(Absl(name), ".tmp.")) {
      stale.emplace_back(name);  // an interrupted WriteFileAtomic
    } else if (absl::EndsWith(Absl(name), Absl(kSuffix))) {
      files.emplace_back(name);
    }
  }
  for (const auto& f : stale) unlink(absl::StrCat(store.dir_, "/", f).c_str());

  for (const auto& f : files) {
    const std::string path = absl::StrCat(store.dir_, "/", f);
    absl::StatusOr<std::string> text = ReadFileString(path, kMaxRecordFileBytes);
    if (!text.ok()) return text.status();
    absl::StatusOr<SecretRecord> record = Parse(*text);
    WipeString(*text);
    if (!record.ok()) {
      return absl::DataLossError(absl::StrCat(path, ": ", record.status().message()));
    }
    if (store.PathFor(record->name) != path) {
      return absl::DataLossError(absl::StrCat(path, ": file name does not match the secret name"));
    }
    std::string name = record->name;
    store.records_.emplace(std::move(name), *std::move(record));
  }
  return store;
}

const SecretRecord* SecretsStore::Find(std::string_view name) const {
  auto it = records_.find(name);
  return it == records_.end() ? nullptr : &it->second;
}

std::string SecretsStore::PathFor(std::string_view name) const {
  crypto::Sha256Digest h =
      crypto::Sha256(ByteView(reinterpret_cast<const uint8_t*>(name.data()), name.size()));
  return absl::StrCat(dir_, "/", HexEncode(ByteView(h.data(), h.size())), Absl(kSuffix));
}

absl::Status SecretsStore::Save(SecretRecord record) {
  std::string text = Serialize(record);
  absl::Status st =
      WriteFileAtomic(PathFor(record.name),
                      ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600);
  WipeString(text);
  RETURN_IF_ERROR(st);
  std::string name = record.name;
  records_.insert_or_assign(std::move(name), std::move(record));
  return absl::OkStatus();
}

absl::Status SecretsStore::Remove(std::string_view name) {
  auto it = records_.find(name);
  if (it == records_.end()) return absl::NotFoundError("no such secret");
  const std::string path = PathFor(name);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("cannot remove ", path, ": ", std::strerror(errno)));
  }
  RETURN_IF_ERROR(FsyncDir(dir_));
  records_.erase(it);
  return absl::OkStatus();
}

}  // namespace lockout::localaws
