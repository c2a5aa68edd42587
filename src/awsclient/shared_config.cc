#include "src/awsclient/shared_config.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/file.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  std::optional<std::string> v = env(name);
  if (v.has_value() && v->empty()) return std::nullopt;
  return v;
}

absl::StatusOr<std::string> ExpandHome(const EnvLookup& env, std::string path,
                                       std::string_view variable) {
  if (path != "~" && !absl::StartsWith(path, "~/")) return path;
  std::optional<std::string> home = NonEmpty(env, "HOME");
  if (!home.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Absl(variable), " starts with ~ but HOME is not set; give an absolute path"));
  }
  return absl::StrCat(*home, path.substr(1));
}

absl::StatusOr<SharedFile> ReadShared(const EnvLookup& env, std::string_view variable,
                                      std::string_view default_path) {
  SharedFile f;
  std::optional<std::string> from_env = NonEmpty(env, variable);
  absl::StatusOr<std::string> path =
      ExpandHome(env, from_env.value_or(std::string(default_path)), variable);
  if (!path.ok()) {
    if (from_env.has_value()) return path.status();
    f.path = std::string(default_path);  // no HOME and no variable: nothing to read
    return f;
  }
  f.path = *std::move(path);
  struct stat st;
  if (stat(f.path.c_str(), &st) != 0) return f;  // absent: no profiles
  absl::StatusOr<std::string> text = ReadFileString(f.path, kMaxIniBytes);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("cannot read ", f.path, " (", Absl(variable), "): ", text.status().message()));
  }
  absl::StatusOr<IniFile> ini = IniFile::Parse(*text);
  WipeString(*text);
  if (!ini.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(f.path, " (", Absl(variable), ") is malformed: ", ini.status().message()));
  }
  f.exists = true;
  f.ini = *std::move(ini);
  return f;
}

}  // namespace

absl::StatusOr<SharedConfig> SharedConfig::Load(const EnvLookup& env) {
  SharedConfig c;
  if (std::optional<std::string> p = NonEmpty(env, "AWS_PROFILE"); p.has_value()) {
    c.profile_name_ = *p;
    c.profile_explicit_ = true;
  }
  absl::StatusOr<SharedFile> config = ReadShared(env, "AWS_CONFIG_FILE", "~/.aws/config");
  if (!config.ok()) return config.status();
  c.config_ = *std::move(config);
  absl::StatusOr<SharedFile> credentials =
      ReadShared(env, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials");
  if (!credentials.ok()) return credentials.status();
  c.credentials_ = *std::move(credentials);
  return c;
}

const IniFile::Section* SharedConfig::ConfigSection(std::string_view profile) const {
  if (const IniFile::Section* s = config_.ini.Find(absl::StrCat("profile ", Absl(profile)))) {
    return s;
  }
  if (profile == "default") return config_.ini.Find("default");
  return nullptr;
}

const IniFile::Section* SharedConfig::CredentialsSection(std::string_view profile) const {
  return credentials_.ini.Find(profile);
}

std::optional<std::string> SharedConfig::Get(std::string_view profile, std::string_view key) const {
  for (const IniFile::Section* s : {CredentialsSection(profile), ConfigSection(profile)}) {
    if (s == nullptr) continue;
    auto it = s->find(std::string(key));
    if (it != s->end() && !it->second.empty()) return it->second;
  }
  return std::nullopt;
}

std::string SharedConfig::DescribeSources(std::string_view profile) const {
  auto file = [](const SharedFile& f, const char* variable, bool has) {
    return absl::StrCat(f.path, " (", variable, "; ",
                        !f.exists ? "no such file" : (has ? "has it" : "not in it"), ")");
  };
  return absl::StrCat(
      "profile \"", Absl(profile), "\" (AWS_PROFILE) in ",
      file(credentials_, "AWS_SHARED_CREDENTIALS_FILE", CredentialsSection(profile) != nullptr),
      " and ", file(config_, "AWS_CONFIG_FILE", ConfigSection(profile) != nullptr));
}

}  // namespace lockout::awsclient
