#include "src/operator/kms_key_ref.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "src/awsclient/failure_hint.h"
#include "src/common/strings.h"

namespace lockout::ops {
namespace {

// REGION of "arn:PARTITION:kms:REGION:..."; empty for other forms.
std::string_view ArnRegion(std::string_view input) {
  if (!input.starts_with("arn:")) return {};
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    start = input.find(':', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const size_t end = input.find(':', start);
  return end == std::string_view::npos ? std::string_view() : input.substr(start, end - start);
}

}  // namespace

absl::StatusOr<KmsKeyForm> KmsKeyFormOf(std::string_view input) {
  if (input.empty()) return absl::InvalidArgumentError("empty KMS key");
  if (input.starts_with("alias/")) return KmsKeyForm::kAliasName;
  if (!input.starts_with("arn:")) return KmsKeyForm::kKeyId;
  // arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE
  std::vector<std::string_view> parts;
  std::string_view rest = input;
  while (parts.size() < 5) {
    const size_t colon = rest.find(':');
    if (colon == std::string_view::npos) break;
    parts.push_back(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() == 5 && parts[2] == "kms") {
    if (rest.starts_with("key/") && rest.size() > 4) return KmsKeyForm::kKeyArn;
    if (rest.starts_with("alias/") && rest.size() > 6) return KmsKeyForm::kAliasArn;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", Absl(input),
                   "\" is not a KMS key: give a key id, a key ARN (arn:aws:kms:REGION:ACCOUNT:"
                   "key/ID), an alias (alias/NAME) or an alias ARN"));
}

std::string KmsKeyRef::Describe() const {
  if (arn.empty() || arn == input) return input;
  return absl::StrCat(input, " (", arn, ")");
}

absl::StatusOr<KmsKeyRef> ResolveKmsKey(awsclient::KmsClient& kms, std::string_view input,
                                        std::string_view what) {
  absl::StatusOr<KmsKeyForm> form = KmsKeyFormOf(input);
  if (!form.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": ", form.status().message()));
  }
  const bool alias = *form == KmsKeyForm::kAliasName || *form == KmsKeyForm::kAliasArn;
  KmsKeyRef ref;
  ref.input = std::string(input);
  absl::StatusOr<awsclient::KeyMetadata> metadata = kms.DescribeKey(input);
  if (metadata.ok()) {
    ref.key_id = metadata->key_id;
    ref.arn = metadata->arn;
    ref.resolved = true;
    return ref;
  }
  const absl::Status& s = metadata.status();
  const std::string region = kms.json_client().options().region;
  const std::string resource =
      absl::StrCat("the KMS ", alias ? "alias " : "key ", Absl(input));
  if (absl::IsNotFound(s)) {
    std::string if_missing = alias ? "aws kms list-aliases shows the aliases" : "";
    // An ARN names its region: say so when requests go to another.
    const std::string_view arn_region = ArnRegion(input);
    if (!arn_region.empty() && arn_region != region) {
      if_missing = absl::StrCat("the ARN is in ", Absl(arn_region), ": set AWS_REGION=",
                                Absl(arn_region));
    }
    return absl::NotFoundError(absl::StrCat(
        Absl(what), " ", Absl(input), ": KMS has no such ", alias ? "alias" : "key", ": ",
        awsclient::ExplainAwsFailure(s, {.action = "kms:DescribeKey",
                                         .resource = resource,
                                         .region = region,
                                         .if_missing = if_missing})
            .Text()));
  }
  if (absl::IsPermissionDenied(s) && !alias) {
    // The instance role typically may not DescribeKey; a key id or ARN works as given.
    ref.key_id = *form == KmsKeyForm::kKeyArn ? std::string(input.substr(input.rfind('/') + 1))
                                              : std::string(input);
    if (*form == KmsKeyForm::kKeyArn) ref.arn = std::string(input);
    return ref;
  }
  if (absl::IsPermissionDenied(s)) {
    // The key policy may deny DescribeKey (the recommended policy does, to all but the enclave
    // role and the key admin); ListAliases is decided by identity policies alone.
    std::string_view alias_name = input.substr(input.find("alias/"));
    absl::StatusOr<std::vector<awsclient::AliasEntry>> aliases = kms.ListAliases();
    if (aliases.ok()) {
      for (const awsclient::AliasEntry& a : *aliases) {
        if (a.alias_name != alias_name || a.target_key_id.empty()) continue;
        ref.key_id = a.target_key_id;
        const size_t colon = a.alias_arn.rfind(':');
        if (colon != std::string::npos) {
          ref.arn = absl::StrCat(a.alias_arn.substr(0, colon + 1), "key/", a.target_key_id);
        }
        ref.resolved = true;
        return ref;
      }
      return absl::NotFoundError(
          absl::StrCat(Absl(what), " ", Absl(input),
                       ": KMS has no such alias in this account and region (ListAliases); "
                       "check the name, AWS_REGION and that these credentials belong to the "
                       "key's account"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(Absl(what), " ", Absl(input),
                     ": cannot resolve the alias, DescribeKey and ListAliases are denied to these "
                     "credentials (",
                     s.message(), "); pass the key ARN instead"));
  }
  return absl::Status(
      s.code(), absl::StrCat(Absl(what), " ", Absl(input), ": DescribeKey failed: ",
                             awsclient::ExplainAwsFailure(s, {.action = "kms:DescribeKey",
                                                              .resource = resource,
                                                              .region = region,
                                                              .if_missing = ""})
                                 .Text()));
}

}  // namespace lockout::ops
