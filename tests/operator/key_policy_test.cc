#include "src/operator/key_policy.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/operator/measurement.h"
#include "src/policy/policy.h"

namespace lockout::ops {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kAdmin[] = "arn:aws:iam::123456789012:role/KeyAdmin";
constexpr char kRole[] = "arn:aws:iam::123456789012:role/lockout-instance";
const std::string kPcr0Hex(96, 'a');
const std::string kPcr8Hex(96, 'b');

// The statements as the seed README (step 9) and tests/integration/lockout_truth_table_test.py
// write them, typed out independently of the code under test.
const Json kAdminActions = Json::parse(R"(["kms:Create*", "kms:Describe*", "kms:Enable*",
    "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*",
    "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion"])");
// Recommended: no kms:Create* (CreateGrant) and no kms:Put* (PutKeyPolicy).
const Json kRecommendedAdminActions = Json::parse(R"(["kms:CreateAlias", "kms:Describe*",
    "kms:Enable*", "kms:List*", "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"])");
constexpr char kPolicyAdmin[] = "arn:aws:iam::123456789012:role/BreakGlass";

KeyPolicyOptions Options(PolicyMode mode) {
  KeyPolicyOptions o;
  o.mode = mode;
  o.admin_role_arn = kAdmin;
  o.enclave_role_arn = kRole;
  o.pcr0 = *ParsePcrHex(kPcr0Hex, "pcr0");
  return o;
}

Json Expected(const std::string& text) { return Json::parse(text); }

TEST(KeyPolicyTest, SeedModeIsExactlyTheTutorialsEndState) {
  auto policy = BuildKeyPolicy(Options(PolicyMode::kSeed));
  ASSERT_TRUE(policy.ok()) << policy.status();
  Json expected = Expected(R"({"Version": "2012-10-17", "Statement": [
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"}, "Action": [], "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/lockout-instance"},
     "Action": ["kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*"},
    {"Sid": "Enable decrypt from enclave", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/lockout-instance"},
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": "PCR0"}}}]})");
  expected["Statement"][0]["Action"] = kAdminActions;
  expected["Statement"][2]["Condition"]["StringEqualsIgnoreCase"]
          ["kms:RecipientAttestation:ImageSha384"] = kPcr0Hex;
  EXPECT_EQ(*policy, expected) << policy->dump(2);
  // Field order as written by hand in the tutorial.
  EXPECT_EQ(policy->dump(), expected.dump());
}

TEST(KeyPolicyTest, RecommendedModeDeniesEveryWayAroundTheAttestation) {
  auto policy = BuildKeyPolicy(Options(PolicyMode::kRecommended));
  ASSERT_TRUE(policy.ok()) << policy.status();
  Json expected = Expected(R"({"Version": "2012-10-17", "Statement": [
    {"Sid": "KeyAdministration", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"}, "Action": [], "Resource": "*"},
    {"Sid": "EncryptForEnclave", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/lockout-instance"},
     "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"},
    {"Sid": "DecryptOnlyInEnclave", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::123456789012:role/lockout-instance"},
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ""}}},
    {"Sid": "DenyDecryptWithoutAttestation", "Effect": "Deny", "Principal": "*",
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringNotEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ""}}},
    {"Sid": "DenyReEncrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:ReEncrypt*",
     "Resource": "*"},
    {"Sid": "DenyGrants", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant",
     "Resource": "*"},
    {"Sid": "DenyPolicyChange", "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy",
     "Resource": "*"}]})");
  expected["Statement"][0]["Action"] = kRecommendedAdminActions;
  expected["Statement"][2]["Condition"]["StringEqualsIgnoreCase"]
          ["kms:RecipientAttestation:ImageSha384"] = kPcr0Hex;
  expected["Statement"][3]["Condition"]["StringNotEqualsIgnoreCase"]
          ["kms:RecipientAttestation:ImageSha384"] = kPcr0Hex;
  EXPECT_EQ(policy->dump(), expected.dump()) << policy->dump(2);
  EXPECT_TRUE(NeedsLockoutSafetyBypass(Options(PolicyMode::kRecommended)));
  EXPECT_TRUE(NeedsLockoutSafetyBypass(Options(PolicyMode::kSeed)));
}

TEST(KeyPolicyTest, APolicyAdminAloneMayRewriteThePolicy) {
  KeyPolicyOptions o = Options(PolicyMode::kRecommended);
  o.policy_admin_role_arn = kPolicyAdmin;
  auto policy = BuildKeyPolicy(o);
  ASSERT_TRUE(policy.ok()) << policy.status();
  const Json& st = (*policy)["Statement"];
  ASSERT_EQ(st.size(), 8u);
  EXPECT_EQ(st[1].dump(), Expected(R"({"Sid": "PolicyAdministration", "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::123456789012:role/BreakGlass"},
      "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy"], "Resource": "*"})")
                              .dump());
  EXPECT_EQ(st[7].dump(), Expected(R"({"Sid": "DenyPolicyChange", "Effect": "Deny",
      "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*",
      "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/BreakGlass"}}})")
                              .dump());
  EXPECT_FALSE(NeedsLockoutSafetyBypass(o));
}

TEST(KeyPolicyTest, RejectsAPolicyAdminInSeedModeOrSharedWithAnotherRole) {
  KeyPolicyOptions o = Options(PolicyMode::kSeed);
  o.policy_admin_role_arn = kPolicyAdmin;
  EXPECT_EQ(BuildKeyPolicy(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.mode = PolicyMode::kRecommended;
  for (const char* same : {kAdmin, kRole}) {
    o.policy_admin_role_arn = same;
    EXPECT_EQ(BuildKeyPolicy(o).status().code(), absl::StatusCode::kInvalidArgument) << same;
  }
  o.policy_admin_role_arn = "arn:aws:iam::123456789012:role/*";
  EXPECT_THAT(std::string(BuildKeyPolicy(o).status().message()),
              ::testing::HasSubstr("--policy-admin-role"));
}

TEST(KeyPolicyTest, RecommendedModeWithPcr8AndPcr3AddsConditionsAndOneDenyPerPcr) {
  KeyPolicyOptions o = Options(PolicyMode::kRecommended);
  o.pcr8 = *ParsePcrHex(kPcr8Hex, "pcr8");
  o.pcr3 = Pcr3OfRole(kRole);
  const std::string pcr3_hex = HexEncode(*o.pcr3);
  auto policy = BuildKeyPolicy(o);
  ASSERT_TRUE(policy.ok()) << policy.status();
  const Json& st = (*policy)["Statement"];
  ASSERT_EQ(st.size(), 9u);
  EXPECT_EQ(st[2]["Condition"].dump(),
            Json::parse(R"({"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
                        kPcr0Hex + R"(", "kms:RecipientAttestation:PCR8": ")" + kPcr8Hex +
                        R"(", "kms:RecipientAttestation:PCR3": ")" + pcr3_hex + R"("}})")
                .dump());
  EXPECT_EQ(st[3]["Sid"], "DenyDecryptWithoutAttestation");
  EXPECT_EQ(st[4]["Sid"], "DenyDecryptWithoutSigner");
  EXPECT_EQ(st[4]["Condition"]["StringNotEqualsIgnoreCase"].dump(),
            (Json{{"kms:RecipientAttestation:PCR8", kPcr8Hex}}).dump());
  EXPECT_EQ(st[5]["Sid"], "DenyDecryptFromOtherParent");
  EXPECT_EQ(st[5]["Condition"]["StringNotEqualsIgnoreCase"].dump(),
            (Json{{"kms:RecipientAttestation:PCR3", pcr3_hex}}).dump());
  for (size_t i = 3; i < 6; ++i) {
    EXPECT_EQ(st[i]["Effect"], "Deny");
    EXPECT_EQ(st[i]["Principal"], "*");
    EXPECT_EQ(st[i]["Action"], "kms:Decrypt");
  }
  EXPECT_EQ(st[6]["Sid"], "DenyReEncrypt");
  EXPECT_EQ(st[7]["Sid"], "DenyGrants");
  EXPECT_EQ(st[8]["Sid"], "DenyPolicyChange");
}

TEST(KeyPolicyTest, ASigningPolicyPinsPcr16InTheAllowAndADenyOfItsOwn) {
  const std::string pcr16_hex(96, 'c');
  for (PolicyMode mode : {PolicyMode::kSeed, PolicyMode::kRecommended}) {
    KeyPolicyOptions o = Options(mode);
    o.pcr16 = *ParsePcrHex(pcr16_hex, "pcr16");
    auto policy = BuildKeyPolicy(o);
    ASSERT_TRUE(policy.ok()) << policy.status();
    const Json& st = (*policy)["Statement"];
    const Json& allow = st[2]["Condition"]["StringEqualsIgnoreCase"];
    EXPECT_EQ(allow["kms:RecipientAttestation:ImageSha384"], kPcr0Hex);
    EXPECT_EQ(allow["kms:RecipientAttestation:PCR16"], pcr16_hex);
    if (mode == PolicyMode::kSeed) {
      EXPECT_EQ(st.size(), 3u);
      continue;
    }
    ASSERT_EQ(st.size(), 8u);
    EXPECT_EQ(st[3]["Sid"], "DenyDecryptWithoutAttestation");
    EXPECT_EQ(st[4]["Sid"], "DenyDecryptWithOtherSigningPolicy");
    EXPECT_EQ(st[4]["Effect"], "Deny");
    EXPECT_EQ(st[4]["Principal"], "*");
    EXPECT_EQ(st[4]["Action"], "kms:Decrypt");
    EXPECT_EQ(
        st[4]["Condition"].dump(),
        (Json{{"StringNotEqualsIgnoreCase", Json{{"kms:RecipientAttestation:PCR16", pcr16_hex}}}})
            .dump());
  }
}

TEST(KeyPolicyTest, SeedModeWithPcr8AddsItToTheDecryptCondition) {
  KeyPolicyOptions o = Options(PolicyMode::kSeed);
  o.pcr8 = *ParsePcrHex(kPcr8Hex, "pcr8");
  auto policy = BuildKeyPolicy(o);
  ASSERT_TRUE(policy.ok());
  ASSERT_EQ((*policy)["Statement"].size(), 3u);
  EXPECT_EQ((*policy)["Statement"][2]["Condition"]["StringEqualsIgnoreCase"]
                     ["kms:RecipientAttestation:PCR8"],
            kPcr8Hex);
}

TEST(KeyPolicyTest, EveryGeneratedPolicyParsesAsAKmsKeyPolicy) {
  for (PolicyMode mode : {PolicyMode::kSeed, PolicyMode::kRecommended}) {
    KeyPolicyOptions o = Options(mode);
    o.pcr8 = *ParsePcrHex(kPcr8Hex, "pcr8");
    o.pcr3 = Pcr3OfRole(kRole);
    auto text = BuildKeyPolicyText(o);
    ASSERT_TRUE(text.ok());
    EXPECT_TRUE(policy::Policy::Parse(*text, policy::PolicyKind::kKeyPolicy).ok()) << *text;
    EXPECT_EQ(text->back(), '\n');
  }
}

TEST(KeyPolicyTest, RejectsMissingOrMalformedRoleArns) {
  KeyPolicyOptions o = Options(PolicyMode::kRecommended);
  o.admin_role_arn.clear();
  EXPECT_THAT(std::string(BuildKeyPolicy(o).status().message()),
              ::testing::HasSubstr("--admin-role is required"));
  for (const char* bad : {"lockout-instance", "arn:aws:iam::123:role/x", "arn:aws:s3:::bucket",
                          "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/*",
                          "arn:aws:iam::123456789012:group/x"}) {
    o = Options(PolicyMode::kRecommended);
    o.enclave_role_arn = bad;
    auto r = BuildKeyPolicy(o);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(KeyPolicyTest, ParsesModeNames) {
  EXPECT_EQ(*ParsePolicyMode("seed"), PolicyMode::kSeed);
  EXPECT_EQ(*ParsePolicyMode("recommended"), PolicyMode::kRecommended);
  EXPECT_FALSE(ParsePolicyMode("Seed").ok());
  EXPECT_FALSE(ParsePolicyMode("").ok());
  EXPECT_EQ(PolicyModeName(PolicyMode::kSeed), "seed");
}

}  // namespace
}  // namespace lockout::ops
