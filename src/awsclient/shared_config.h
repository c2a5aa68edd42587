#pragma once

// The AWS shared config and credentials files and the profile they select, as the AWS CLI and
// SDKs find them:
//
//   AWS_CONFIG_FILE              default ~/.aws/config       sections "[profile NAME]" and
//                                                            "[default]" (or "[profile default]")
//   AWS_SHARED_CREDENTIALS_FILE  default ~/.aws/credentials  sections "[NAME]"
//   AWS_PROFILE                  default "default"
//
// "~/" at the start of a path is the home directory (HOME). A file that does not exist is not an
// error (it has no profiles); one that cannot be read or parsed is (its path and the line
// number, never its text). A profile's settings are both files' sections merged, the credentials
// file winning. Static keys are looked up per file (the SDKs prefer the credentials file's).
// Thread-safety: immutable after Load; concurrent reads are fine.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/awsclient/aws_environment.h"
#include "src/awsclient/ini_file.h"

namespace lockout::awsclient {

struct SharedFile {
  std::string path;
  bool exists = false;
  IniFile ini;
};

class SharedConfig final {
 public:
  // Reads both files. Errors: a file that exists but cannot be read or parsed.
  static absl::StatusOr<SharedConfig> Load(const EnvLookup& env);

  // AWS_PROFILE or "default".
  const std::string& profile_name() const { return profile_name_; }
  // True when AWS_PROFILE chose the profile (then it must exist).
  bool profile_explicit() const { return profile_explicit_; }
  const SharedFile& config() const { return config_; }
  const SharedFile& credentials() const { return credentials_; }

  // The profile's section in the config file ("[profile NAME]"; "[default]" for default) and in
  // the credentials file ("[NAME]"), nullptr when absent.
  const IniFile::Section* ConfigSection(std::string_view profile) const;
  const IniFile::Section* CredentialsSection(std::string_view profile) const;
  bool HasProfile(std::string_view profile) const {
    return ConfigSection(profile) != nullptr || CredentialsSection(profile) != nullptr;
  }
  // A setting of the profile: the credentials file's, else the config file's; nullopt when
  // neither has it or it is empty.
  std::optional<std::string> Get(std::string_view profile, std::string_view key) const;

  // "profile \"NAME\" in PATH (...) and PATH (...)" for messages: which files were read.
  std::string DescribeSources(std::string_view profile) const;

 private:
  std::string profile_name_ = "default";
  bool profile_explicit_ = false;
  SharedFile config_;
  SharedFile credentials_;
};

}  // namespace lockout::awsclient
