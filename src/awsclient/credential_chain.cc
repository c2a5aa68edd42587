#include "src/awsclient/credential_chain.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/awsclient/failure_hint.h"
#include "src/awsclient/sts_client.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {


std::optional<std::string> SectionValue(const IniFile::Section* s, const char* key) {
  if (s == nullptr) return std::nullopt;
  auto it = s->find(key);
  if (it == s->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Static keys of one file's section of `profile`; NotFound when it has none.
absl::StatusOr<ResolvedCredentials> StaticKeys(const IniFile::Section* section,
                                               const std::string& profile,
                                               const std::string& path) {
  std::optional<std::string> key_id = SectionValue(section, "aws_access_key_id");
  if (!key_id.has_value()) return absl::NotFoundError("no static keys");
  std::optional<std::string> secret = SectionValue(section, "aws_secret_access_key");
  if (!secret.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("profile \"", profile, "\" in ", path,
                     " has aws_access_key_id but no aws_secret_access_key"));
  }
  aws::AwsCredentials c;
  c.access_key_id = *key_id;
  c.secret_access_key = SecretBytes::CopyFrom(*secret);
  WipeString(*secret);
  if (std::optional<std::string> token = SectionValue(section, "aws_session_token")) {
    c.session_token = SecretBytes::CopyFrom(*token);
    WipeString(*token);
  }
  ResolvedCredentials r;
  r.provider = std::make_shared<StaticCredentialsProvider>(std::move(c));
  r.source = absl::StrCat("profile \"", profile, "\": static keys in ", path);
  return r;
}

}  // namespace

AwsConfig::AwsConfig(EnvLookup lookup)
    : lookup_(lookup), env_(lookup), shared_(SharedConfig::Load(lookup)) {}

std::string AwsConfig::profile_name() const {
  if (shared_.ok()) return shared_->profile_name();
  std::optional<std::string> p = lookup_("AWS_PROFILE");
  return p.has_value() && !p->empty() ? *p : "default";
}

absl::StatusOr<std::string> AwsConfig::Region() const {
  absl::StatusOr<std::string> region = env_.Region();
  if (!absl::IsNotFound(region.status())) return region;
  if (!shared_.ok()) return shared_.status();
  const std::string& profile = shared_->profile_name();
  if (std::optional<std::string> r = shared_->Get(profile, "region"); r.has_value()) {
    if (!IsRegionName(*r)) {
      return absl::InvalidArgumentError(absl::StrCat("region \"", *r, "\" of profile \"", profile,
                                                     "\" is not an AWS region name"));
    }
    return *r;
  }
  return absl::NotFoundError(
      absl::StrCat("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or region in ",
                   shared_->DescribeSources(profile)));
}

bool AwsConfig::ImdsDisabled() const {
  std::optional<std::string> v = lookup_("AWS_EC2_METADATA_DISABLED");
  return v.has_value() && absl::AsciiStrToLower(Absl(*v)) == "true";
}

absl::StatusOr<ResolvedCredentials> AwsConfig::Imds(const CredentialChainOptions& options) const {
  ASSIGN_OR_RETURN(EndpointConfig endpoint, env_.ImdsEndpoint());
  const std::string url = endpoint.url.ToString();
  ASSIGN_OR_RETURN(std::unique_ptr<ImdsClient> client,
                   ImdsClient::Create(std::move(endpoint), options.imds));
  ResolvedCredentials r;
  r.temporary = std::make_shared<ImdsCredentialsProvider>(
      std::shared_ptr<ImdsClient>(std::move(client)), options.refresh_margin, options.clock);
  r.provider = r.temporary;
  r.source = absl::StrCat("instance role (IMDS at ", url, ")");
  return r;
}

absl::StatusOr<ResolvedCredentials> AwsConfig::AssumeRole(
    const SharedConfig& shared, const std::string& profile, const std::string& role_arn,
    ResolvedCredentials source, const CredentialChainOptions& options) const {
  AssumeRoleRequest request;
  request.role_arn = role_arn;
  request.role_session_name =
      shared.Get(profile, "role_session_name")
          .value_or(absl::StrCat("lockout-", absl::ToUnixSeconds(options.clock->Now())));
  request.external_id = shared.Get(profile, "external_id");
  if (std::optional<std::string> d = shared.Get(profile, "duration_seconds")) {
    int seconds = 0;
    if (!absl::SimpleAtoi(Absl(*d), &seconds) || seconds < 900 || seconds > 43200) {
      return absl::InvalidArgumentError(
          absl::StrCat("duration_seconds of profile \"", profile, "\" must be 900..43200"));
    }
    request.duration_seconds = seconds;
  }
  absl::StatusOr<std::string> region = Region();
  const std::string sts_region = region.ok() ? *region : "us-east-1";
  ASSIGN_OR_RETURN(EndpointConfig endpoint, env_.ServiceEndpoint(kStsService, sts_region));
  RetryEnvironment retry_env;
  retry_env.clock = options.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<StsClient> sts,
                   StsClient::Create(std::move(endpoint), source.provider, sts_region,
                                     options.sts_retry, retry_env));
  const std::string what =
      absl::StrCat("profile \"", profile, "\": AssumeRole ", role_arn, " with ", source.source);
  std::shared_ptr<StsClient> shared_sts(std::move(sts));
  ResolvedCredentials r;
  r.temporary = std::make_shared<CachingCredentialsProvider>(
      [shared_sts, request, what]() -> absl::StatusOr<RoleCredentials> {
        absl::StatusOr<AssumeRoleResult> result = shared_sts->AssumeRole(request);
        if (!result.ok()) {
          return absl::Status(result.status().code(),
                              absl::StrCat(what, ": ", result.status().message()));
        }
        return std::move(result->credentials);
      },
      options.refresh_margin, options.clock);
  r.provider = r.temporary;
  r.source = what;
  return r;
}

absl::StatusOr<ResolvedCredentials> AwsConfig::FromProfile(
    const SharedConfig& shared, const std::string& profile, std::vector<std::string>& visited,
    const CredentialChainOptions& options) const {
  if (std::find(visited.begin(), visited.end(), profile) != visited.end()) {
    visited.push_back(profile);
    return absl::FailedPreconditionError(
        absl::StrCat("source_profile cycle: ", absl::StrJoin(visited, " -> "),
                     "; make the last profile in the chain one with its own credentials"));
  }
  visited.push_back(profile);
  if (!shared.HasProfile(profile)) {
    return absl::NotFoundError(absl::StrCat("no such profile: ", shared.DescribeSources(profile)));
  }
  if (std::optional<std::string> role_arn = shared.Get(profile, "role_arn")) {
    std::optional<std::string> source_profile = shared.Get(profile, "source_profile");
    std::optional<std::string> credential_source = shared.Get(profile, "credential_source");
    if (source_profile.has_value() == credential_source.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("profile \"", profile,
                       "\" has role_arn and needs exactly one of source_profile (a profile with "
                       "the credentials to call AssumeRole with) or credential_source"));
    }
    if (shared.Get(profile, "mfa_serial").has_value()) {
      return absl::UnimplementedError(absl::StrCat(
          "profile \"", profile,
          "\" has mfa_serial: lockout cannot prompt for an MFA code; get session credentials "
          "first (aws sts assume-role ... --serial-number ... --token-code ...) and export them"));
    }
    ResolvedCredentials source;
    if (credential_source.has_value()) {
      if (*credential_source == "Environment") {
        absl::StatusOr<aws::AwsCredentials> c = env_.Credentials();
        if (!c.ok()) {
          return absl::Status(
              c.status().code(),
              absl::StrCat("profile \"", profile,
                           "\" has credential_source = Environment: ", c.status().message()));
        }
        source.provider = std::make_shared<StaticCredentialsProvider>(*std::move(c));
        source.source = "the environment's credentials";
      } else if (*credential_source == "Ec2InstanceMetadata") {
        ASSIGN_OR_RETURN(source, Imds(options));
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("credential_source of profile \"", profile,
                         "\" must be Environment or Ec2InstanceMetadata"));
      }
    } else if (*source_profile == profile) {
      // A profile that names itself assumes the role with its own static keys.
      absl::StatusOr<ResolvedCredentials> own =
          StaticKeys(shared.CredentialsSection(profile), profile, shared.credentials().path);
      if (absl::IsNotFound(own.status())) {
        own = StaticKeys(shared.ConfigSection(profile), profile, shared.config().path);
      }
      if (absl::IsNotFound(own.status())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "profile \"", profile, "\" is its own source_profile but has no static keys"));
      }
      ASSIGN_OR_RETURN(source, std::move(own));
    } else {
      absl::StatusOr<ResolvedCredentials> s =
          FromProfile(shared, *source_profile, visited, options);
      if (!s.ok()) {
        if (absl::IsNotFound(s.status())) {
          return absl::InvalidArgumentError(absl::StrCat("source_profile \"", *source_profile,
                                                         "\" of profile \"", profile,
                                                         "\": ", s.status().message()));
        }
        return s.status();
      }
      source = *std::move(s);
    }
    return AssumeRole(shared, profile, *role_arn, std::move(source), options);
  }
  absl::StatusOr<ResolvedCredentials> keys =
      StaticKeys(shared.CredentialsSection(profile), profile, shared.credentials().path);
  if (!absl::IsNotFound(keys.status())) return keys;
  if (std::optional<std::string> command = shared.Get(profile, "credential_process")) {
    const std::string what = absl::StrCat("credential_process of profile \"", profile, "\"");
    const ProcessCredentialsOptions process = options.process;
    ResolvedCredentials r;
    r.temporary = std::make_shared<CachingCredentialsProvider>(
        [command = *command, what, process] {
          return RunCredentialProcess(command, what, process);
        },
        options.refresh_margin, options.clock);
    r.provider = r.temporary;
    r.source = absl::StrCat("profile \"", profile, "\": credential_process");
    return r;
  }
  keys = StaticKeys(shared.ConfigSection(profile), profile, shared.config().path);
  if (!absl::IsNotFound(keys.status())) return keys;
  return absl::NotFoundError(
      absl::StrCat("profile \"", profile,
                   "\" has no credentials (aws_access_key_id, role_arn or credential_process)"));
}

absl::StatusOr<ResolvedCredentials> AwsConfig::Credentials(
    const CredentialChainOptions& options) const {
  absl::StatusOr<aws::AwsCredentials> from_env = env_.Credentials();
  if (from_env.ok()) {
    ResolvedCredentials r;
    r.provider = std::make_shared<StaticCredentialsProvider>(*std::move(from_env));
    r.source = "environment (AWS_ACCESS_KEY_ID)";
    return r;
  }
  if (!absl::IsNotFound(from_env.status())) return from_env.status();
  if (!shared_.ok()) return shared_.status();
  const SharedConfig& shared = *shared_;
  const std::string& profile = shared.profile_name();
  std::string tried =
      absl::StrCat("tried the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: not set), ",
                   shared.DescribeSources(profile));
  if (shared.HasProfile(profile)) {
    std::vector<std::string> visited;
    absl::StatusOr<ResolvedCredentials> r = FromProfile(shared, profile, visited, options);
    if (!absl::IsNotFound(r.status())) return r;
    absl::StrAppend(&tried, ": ", r.status().message());
  } else if (shared.profile_explicit()) {
    return absl::NotFoundError(
        absl::StrCat("AWS_PROFILE=", profile, ": no such ", shared.DescribeSources(profile),
                     "; create it (aws configure --profile ", profile, ") or unset AWS_PROFILE"));
  }
  if (ImdsDisabled()) {
    return absl::NotFoundError(
        absl::StrCat("no AWS credentials: ", tried,
                     ", and the instance role (IMDS: disabled by AWS_EC2_METADATA_DISABLED=true); ",
                     Absl(kSetCredentialsStep)));
  }
  ASSIGN_OR_RETURN(ResolvedCredentials imds, Imds(options));
  // IMDS is asked lazily (at the first call); if it fails, say what else was tried.
  imds.provider = std::make_shared<ExplainingCredentialsProvider>(
      imds.provider, absl::StrCat("no AWS credentials: ", tried, ", and the ", imds.source, ": "),
      absl::StrCat("; ", Absl(kSetCredentialsStep)));
  return imds;
}

}  // namespace lockout::awsclient
