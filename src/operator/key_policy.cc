#include "src/operator/key_policy.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/policy/policy.h"

namespace lockout::ops {
namespace {

using Json = nlohmann::ordered_json;

absl::Status CheckPrincipalArn(std::string_view arn, std::string_view flag) {
  std::array<std::string_view, 6> parts;
  if (arn.empty()) return absl::InvalidArgumentError(absl::StrCat(Absl(flag), " is required"));
  if (!policy::SplitArn(arn, parts) || parts[2] != "iam" || !parts[3].empty() ||
      !policy::IsAccountId(parts[4]) ||
      !(parts[5].starts_with("role/") || parts[5].starts_with("user/")) ||
      arn.find_first_of("*? \"") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(flag), " must be an IAM role or user ARN such as ",
                     "arn:aws:iam::123456789012:role/NAME; got \"", Absl(arn), "\""));
  }
  return absl::OkStatus();
}

Json Statement(std::string_view sid, std::string_view effect, Json principal, Json action) {
  Json s;
  s["Sid"] = sid;
  s["Effect"] = effect;
  s["Principal"] = std::move(principal);
  s["Action"] = std::move(action);
  s["Resource"] = "*";
  return s;
}

Json Aws(std::string_view arn) { return Json{{"AWS", arn}}; }

}  // namespace

std::string_view PolicyModeName(PolicyMode mode) {
  return mode == PolicyMode::kSeed ? "seed" : "recommended";
}

absl::StatusOr<PolicyMode> ParsePolicyMode(std::string_view name) {
  if (name == "seed") return PolicyMode::kSeed;
  if (name == "recommended") return PolicyMode::kRecommended;
  return absl::InvalidArgumentError(
      absl::StrCat("--mode must be seed or recommended; got \"", Absl(name), "\""));
}

namespace {

// The administrator actions both modes share, after each mode's own first six.
std::vector<std::string> WithCommonAdministratorActions(std::vector<std::string> head) {
  for (const char* action :
       {"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
        "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"}) {
    head.emplace_back(action);
  }
  return head;
}

}  // namespace

const std::vector<std::string>& KeyAdministratorActions() {
  static const std::vector<std::string> kActions = WithCommonAdministratorActions(
      {"kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*"});
  return kActions;
}

const std::vector<std::string>& RecommendedAdministratorActions() {
  static const std::vector<std::string> kActions =
      WithCommonAdministratorActions({"kms:CreateAlias", "kms:Describe*", "kms:Enable*",
                                      "kms:List*", "kms:UpdateAlias", "kms:UpdateKeyDescription"});
  return kActions;
}

absl::StatusOr<Json> BuildKeyPolicy(const KeyPolicyOptions& o) {
  if (absl::Status s = CheckPrincipalArn(o.admin_role_arn, "--admin-role"); !s.ok()) return s;
  if (absl::Status s = CheckPrincipalArn(o.enclave_role_arn, "--enclave-role"); !s.ok()) return s;
  if (!o.policy_admin_role_arn.empty()) {
    if (o.mode == PolicyMode::kSeed) {
      return absl::InvalidArgumentError(
          "--policy-admin-role goes with --mode recommended (the seed's admin holds kms:Put*)");
    }
    if (absl::Status s = CheckPrincipalArn(o.policy_admin_role_arn, "--policy-admin-role");
        !s.ok()) {
      return s;
    }
    if (o.policy_admin_role_arn == o.admin_role_arn ||
        o.policy_admin_role_arn == o.enclave_role_arn) {
      return absl::InvalidArgumentError(
          "--policy-admin-role must be a principal of its own, not the admin or enclave role");
    }
  }
  const std::string pcr0 = HexEncode(o.pcr0);

  // The attestation conditions of the Allow: all must hold (keys of one block are ANDed).
  Json allow_condition;
  allow_condition[kImageSha384Key] = pcr0;
  if (o.pcr8) allow_condition[kPcr8Key] = HexEncode(*o.pcr8);
  if (o.pcr3) allow_condition[kPcr3Key] = HexEncode(*o.pcr3);
  if (o.pcr16) allow_condition[kPcr16Key] = HexEncode(*o.pcr16);

  Json statements = Json::array();
  if (o.mode == PolicyMode::kSeed) {
    statements.push_back(Statement("Allow access for Key Administrators", "Allow",
                                   Aws(o.admin_role_arn), KeyAdministratorActions()));
    statements.push_back(Statement(
        "Allow use of the key", "Allow", Aws(o.enclave_role_arn),
        Json::array({"kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"})));
    Json decrypt =
        Statement("Enable decrypt from enclave", "Allow", Aws(o.enclave_role_arn), "kms:Decrypt");
    decrypt["Condition"] = Json{{"StringEqualsIgnoreCase", allow_condition}};
    statements.push_back(std::move(decrypt));
  } else {
    statements.push_back(Statement("KeyAdministration", "Allow", Aws(o.admin_role_arn),
                                   RecommendedAdministratorActions()));
    if (!o.policy_admin_role_arn.empty()) {
      statements.push_back(Statement("PolicyAdministration", "Allow", Aws(o.policy_admin_role_arn),
                                     Json::array({"kms:PutKeyPolicy", "kms:GetKeyPolicy"})));
    }
    statements.push_back(Statement("EncryptForEnclave", "Allow", Aws(o.enclave_role_arn),
                                   Json::array({"kms:Encrypt", "kms:DescribeKey"})));
    Json decrypt =
        Statement("DecryptOnlyInEnclave", "Allow", Aws(o.enclave_role_arn), "kms:Decrypt");
    decrypt["Condition"] = Json{{"StringEqualsIgnoreCase", allow_condition}};
    statements.push_back(std::move(decrypt));
    // One Deny per pinned PCR (see the header: negated keys in one block are ANDed).
    auto deny = [&](std::string_view sid, std::string_view key, const std::string& value) {
      Json d = Statement(sid, "Deny", "*", "kms:Decrypt");
      d["Condition"] = Json{{"StringNotEqualsIgnoreCase", Json{{key, value}}}};
      statements.push_back(std::move(d));
    };
    deny("DenyDecryptWithoutAttestation", kImageSha384Key, pcr0);
    if (o.pcr8) deny("DenyDecryptWithoutSigner", kPcr8Key, HexEncode(*o.pcr8));
    if (o.pcr3) deny("DenyDecryptFromOtherParent", kPcr3Key, HexEncode(*o.pcr3));
    if (o.pcr16) deny("DenyDecryptWithOtherSigningPolicy", kPcr16Key, HexEncode(*o.pcr16));
    // ReEncrypt needs no attestation and grants carry no attestation conditions: deny both to
    // everyone (an explicit Deny in the key policy binds grantees too).
    statements.push_back(Statement("DenyReEncrypt", "Deny", "*", "kms:ReEncrypt*"));
    statements.push_back(Statement("DenyGrants", "Deny", "*", "kms:CreateGrant"));
    // Nobody but the policy administrator (if any) may rewrite the policy.
    Json deny_put = Statement("DenyPolicyChange", "Deny", "*", "kms:PutKeyPolicy");
    if (!o.policy_admin_role_arn.empty()) {
      deny_put["Condition"] =
          Json{{"ArnNotEquals", Json{{"aws:PrincipalArn", o.policy_admin_role_arn}}}};
    }
    statements.push_back(std::move(deny_put));
  }
  Json policy;
  policy["Version"] = "2012-10-17";
  policy["Statement"] = std::move(statements);
  return policy;
}

bool NeedsLockoutSafetyBypass(const KeyPolicyOptions& options) {
  return options.mode == PolicyMode::kSeed || options.policy_admin_role_arn.empty();
}

absl::StatusOr<std::string> BuildKeyPolicyText(const KeyPolicyOptions& options) {
  absl::StatusOr<Json> policy = BuildKeyPolicy(options);
  if (!policy.ok()) return policy.status();
  return policy->dump(2) + "\n";
}

}  // namespace lockout::ops
