#include "src/operator/policy_lint.h"

#include <string>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/operator/key_policy.h"
#include "src/operator/measurement.h"
#include "src/policy/policy.h"

namespace lockout::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdmin[] = "arn:aws:iam::123456789012:role/KeyAdmin";
constexpr char kRole[] = "arn:aws:iam::123456789012:role/lockout-instance";

constexpr char kPolicyAdmin[] = "arn:aws:iam::123456789012:role/BreakGlass";

std::string PolicyText(PolicyMode mode, std::string policy_admin = "") {
  KeyPolicyOptions o;
  o.mode = mode;
  o.admin_role_arn = kAdmin;
  o.enclave_role_arn = kRole;
  o.policy_admin_role_arn = std::move(policy_admin);
  o.pcr0 = *ParsePcrHex(std::string(96, 'a'), "pcr0");
  return *BuildKeyPolicyText(o);
}

const LintSubject* Find(const LintReport& r, std::string_view label_part) {
  for (const LintSubject& s : r.subjects) {
    if (s.label.find(label_part) != std::string::npos) return &s;
  }
  return nullptr;
}

std::string SealedPolicyText(PolicyMode mode, const std::string& pcr16_hex) {
  KeyPolicyOptions o;
  o.mode = mode;
  o.admin_role_arn = kAdmin;
  o.enclave_role_arn = kRole;
  o.pcr0 = *ParsePcrHex(std::string(96, 'a'), "pcr0");
  o.pcr16 = *ParsePcrHex(pcr16_hex, "pcr16");
  return *BuildKeyPolicyText(o);
}

TEST(PolicyLintTest, APcr16PinIsReportedPinnedAndMatchesItsSigningPolicy) {
  const std::string pcr16(96, 'c');
  for (PolicyMode mode : {PolicyMode::kSeed, PolicyMode::kRecommended}) {
    auto r =
        LintKeyPolicy(SealedPolicyText(mode, pcr16), {.account_id = "", .expected_pcr16 = pcr16});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->pcr16_pin, Pcr16Pin::kPinned);
    EXPECT_EQ(r->pcr16_value, pcr16);
    EXPECT_TRUE(r->pcr16_matches_expected);
    EXPECT_TRUE(r->pcr16_findings.empty());
    for (const LintSubject& s : r->subjects)
      EXPECT_FALSE(s.decrypt_other_signing_policy) << s.label;
    EXPECT_THAT(r->Text(), HasSubstr("Signing policy (kms:RecipientAttestation:PCR16): pinned = " +
                                     pcr16 + " (matches the signing policy)"));
    EXPECT_EQ(r->ToJson()["signing_policy_pcr16"]["pin"], "pinned");
    EXPECT_THAT(absl::StrJoin(r->parent_root_cannot, "\n"),
                HasSubstr("get the key into an enclave running a signing policy of its own"));
  }
}

TEST(PolicyLintTest, APinOfAnotherSigningPolicyIsAFinding) {
  const std::string other(96, 'd');
  auto r = LintKeyPolicy(SealedPolicyText(PolicyMode::kRecommended, std::string(96, 'c')),
                         {.account_id = "", .expected_pcr16 = other});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pcr16_pin, Pcr16Pin::kPinned);
  EXPECT_FALSE(r->pcr16_matches_expected);
  ASSERT_EQ(r->pcr16_findings.size(), 1u);
  EXPECT_THAT(r->pcr16_findings[0], HasSubstr("an enclave running this signing policy will be "
                                              "refused the key"));
  EXPECT_THAT(r->warnings, ::testing::Contains(r->pcr16_findings[0]));
}

TEST(PolicyLintTest, Pcr0WithoutPcr16IsAFindingOnlyWhenASigningPolicyIsGiven) {
  const std::string text = PolicyText(PolicyMode::kRecommended);
  auto plain = LintKeyPolicy(text);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->pcr16_pin, Pcr16Pin::kNotPinned);
  EXPECT_TRUE(plain->pcr16_findings.empty());
  EXPECT_THAT(absl::StrJoin(plain->parent_root_can, "\n"),
              HasSubstr("boot the pinned image with a signing policy of its own"));
  EXPECT_TRUE(Find(*plain, kRole)->decrypt_other_signing_policy);
  auto given = LintKeyPolicy(text, {.account_id = "", .expected_pcr16 = std::string(96, 'c')});
  ASSERT_TRUE(given.ok());
  ASSERT_EQ(given->pcr16_findings.size(), 1u);
  EXPECT_THAT(given->pcr16_findings[0],
              HasSubstr("the signing policy is NOT sealed: the key policy pins the enclave image "
                        "(PCR0) but does not pin kms:RecipientAttestation:PCR16"));
  // Same verdict either way: the lock-out is about the key's secrecy.
  EXPECT_EQ(given->verdict(), plain->verdict());
}

TEST(PolicyLintTest, AWrongFormatPcr16PinAndOneAnotherStatementGetsAroundAreFindings) {
  const std::string pcr0(96, 'a');
  const std::string allow_any = R"({"Effect": "Allow", "Principal": {"AWS": ")" +
                                std::string(kRole) +
                                R"("}, "Action": "kms:Decrypt", "Resource": "*", "Condition":
      {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
                                pcr0 + R"("}}})";
  auto policy = [&](const std::string& pcr16, bool second_statement) {
    std::string statements = R"({"Effect": "Allow", "Principal": {"AWS": ")" + std::string(kRole) +
                             R"("}, "Action": "kms:Decrypt", "Resource": "*", "Condition":
      {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
                             pcr0 + R"(", "kms:RecipientAttestation:PCR16": ")" + pcr16 + R"("}}})";
    if (second_statement) statements += "," + allow_any;
    return R"({"Version": "2012-10-17", "Statement": [)" + statements + "]}";
  };
  auto wrong = LintKeyPolicy(policy("0xabc", false));
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_EQ(wrong->pcr16_pin, Pcr16Pin::kWrongFormat);
  ASSERT_EQ(wrong->pcr16_findings.size(), 1u);
  EXPECT_THAT(wrong->pcr16_findings[0], HasSubstr("not 96 hex digits (5 characters)"));
  EXPECT_EQ(wrong->ToJson()["signing_policy_pcr16"]["pin"], "wrong format");

  auto around = LintKeyPolicy(policy(std::string(96, 'c'), true));
  ASSERT_TRUE(around.ok()) << around.status();
  EXPECT_EQ(around->pcr16_pin, Pcr16Pin::kNotPinned);
  EXPECT_TRUE(Find(*around, kRole)->decrypt_other_signing_policy);
  ASSERT_EQ(around->pcr16_findings.size(), 1u);
  EXPECT_THAT(around->pcr16_findings[0], HasSubstr("another lets an enclave with any PCR16"));
}

TEST(PolicyLintTest, RecommendedPolicyIsLockedToThePinnedEnclave) {
  auto r = LintKeyPolicy(PolicyText(PolicyMode::kRecommended));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->locked_to_enclave);
  EXPECT_EQ(r->account_id, "123456789012");
  EXPECT_EQ(r->pinned.at("kms:RecipientAttestation:ImageSha384"), std::string(96, 'a'));
  const LintSubject* root = Find(*r, "account root");
  const LintSubject* admin = Find(*r, "role/KeyAdmin");
  const LintSubject* role = Find(*r, "role/lockout-instance");
  ASSERT_TRUE(root && admin && role);
  EXPECT_EQ(root->DecryptSummary(), "cannot decrypt");
  EXPECT_FALSE(root->put_key_policy);
  EXPECT_EQ(admin->DecryptSummary(), "cannot decrypt");
  EXPECT_FALSE(admin->put_key_policy);
  EXPECT_FALSE(admin->create_grant);
  EXPECT_FALSE(admin->reencrypt_from);
  EXPECT_EQ(role->DecryptSummary(), "can decrypt only from the pinned enclave");
  EXPECT_FALSE(role->put_key_policy);
  EXPECT_FALSE(role->reencrypt_from);
  for (const LintSubject& s : r->subjects) {
    EXPECT_FALSE(s.grant_leak || s.put_key_policy || s.reencrypt_from) << s.label;
  }
  EXPECT_EQ(r->verdict(), LintVerdict::kLocked);
  const std::string text = r->Text();
  EXPECT_THAT(text, HasSubstr("Verdict: locked: the key is locked to the pinned enclave"));
  EXPECT_THAT(text, HasSubstr("(kms:PutKeyPolicy):\n  nobody"));
  EXPECT_THAT(text, HasSubstr("it is immutable"));
  EXPECT_THAT(text, HasSubstr("ask the running enclave to sign anything"));
  // Root on the parent: the instance role alone, another image, debug mode: all refused.
  bool saw_no_enclave = false;
  for (const std::string& line : r->parent_root_cannot) {
    if (line.find("without any enclave") != std::string::npos) saw_no_enclave = true;
  }
  EXPECT_TRUE(saw_no_enclave);
}

TEST(PolicyLintTest, SeedPolicyBlocksDecryptButReEncryptStarLetsTheInstanceRoleOut) {
  auto r = LintKeyPolicy(PolicyText(PolicyMode::kSeed));
  ASSERT_TRUE(r.ok()) << r.status();
  const LintSubject* role = Find(*r, "role/lockout-instance");
  ASSERT_NE(role, nullptr);
  EXPECT_FALSE(role->decrypt_without_attestation);
  EXPECT_TRUE(role->decrypt_pinned_enclave);
  EXPECT_FALSE(role->decrypt_other_image);
  EXPECT_FALSE(role->decrypt_debug_enclave);
  EXPECT_TRUE(role->reencrypt_from);  // the seed grants kms:ReEncrypt*
  EXPECT_FALSE(r->locked_to_enclave);
  EXPECT_EQ(Find(*r, "account root")->DecryptSummary(), "cannot decrypt");
  EXPECT_THAT(r->Text(), HasSubstr("kms:ReEncryptFrom"));
  EXPECT_THAT(r->Text(), HasSubstr("Verdict: NOT locked"));
  EXPECT_EQ(r->verdict(), LintVerdict::kNotLocked);
  // The seed's admin (kms:Create*, kms:Put*) can grant itself the key and rewrite the policy.
  const LintSubject* admin = Find(*r, "role/KeyAdmin");
  ASSERT_NE(admin, nullptr);
  EXPECT_TRUE(admin->grant_leak);
  EXPECT_TRUE(admin->put_key_policy);
  EXPECT_THAT(admin->DecryptSummary(), HasSubstr("CAN GRANT ITSELF"));
}

TEST(PolicyLintTest, TheOldRecommendedPolicyLeaksThroughTheAdminsGrants) {
  // What `lockout policy` wrote before issue 10: the admin with kms:Create* and kms:Put*, and a
  // Deny on Decrypt only. A grant of ReEncryptFrom is not stopped by it.
  const std::string policy = R"({"Version":"2012-10-17","Statement":[
    {"Sid":"KeyAdministration","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::123456789012:role/KeyAdmin"},
     "Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*"],"Resource":"*"},
    {"Sid":"DecryptOnlyInEnclave","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::123456789012:role/lockout-instance"},
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab"}}},
    {"Sid":"DenyDecryptWithoutAttestation","Effect":"Deny","Principal":"*",
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab"}}}]})";
  auto r = LintKeyPolicy(policy);
  ASSERT_TRUE(r.ok()) << r.status();
  const LintSubject* admin = Find(*r, "role/KeyAdmin");
  ASSERT_NE(admin, nullptr);
  EXPECT_FALSE(admin->decrypt_without_attestation);
  EXPECT_TRUE(admin->create_grant);
  EXPECT_TRUE(admin->grant_leak);  // Decrypt is denied to grantees, ReEncryptFrom is not
  EXPECT_FALSE(r->locked_to_enclave);
  EXPECT_EQ(r->verdict(), LintVerdict::kNotLocked);
  EXPECT_THAT(r->Text(), HasSubstr("it can grant itself the key"));
}

TEST(PolicyLintTest, APolicyAdminIsReportedAsBreakGlass) {
  auto r = LintKeyPolicy(PolicyText(PolicyMode::kRecommended, kPolicyAdmin));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->locked_to_enclave);
  EXPECT_EQ(r->verdict(), LintVerdict::kLockedExceptBreakGlass);
  ASSERT_EQ(r->policy_writers.size(), 1u);
  EXPECT_EQ(r->policy_writers[0], kPolicyAdmin);
  EXPECT_FALSE(Find(*r, "role/KeyAdmin")->put_key_policy);
  EXPECT_FALSE(Find(*r, "account root")->put_key_policy);
  EXPECT_THAT(r->Text(), HasSubstr("Verdict: locked except break-glass"));
  EXPECT_EQ(r->ToJson()["verdict"], "locked except break-glass");
}

TEST(PolicyLintTest, DefaultPolicyLetsTheAccountDecryptWithoutAttestation) {
  auto policy = policy::DefaultKeyPolicy("123456789012");
  ASSERT_TRUE(policy.ok());
  auto r = LintKeyPolicy(*policy);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->locked_to_enclave);
  EXPECT_TRUE(Find(*r, "account root")->decrypt_without_attestation);
  EXPECT_TRUE(Find(*r, "another IAM user")->decrypt_without_attestation);
  EXPECT_FALSE(Find(*r, "another AWS account")->decrypt_without_attestation);
  EXPECT_EQ(r->delegating_statements.size(), 1u);
  const std::string text = r->Text();
  EXPECT_THAT(text, HasSubstr("Pinned enclave: none"));
  EXPECT_THAT(text, HasSubstr("CAN DECRYPT without any attestation"));
  EXPECT_THAT(text, HasSubstr("name the account"));
}

TEST(PolicyLintTest, WarnsWhenNobodyCanChangeThePolicy) {
  const std::string policy = R"({"Version":"2012-10-17","Statement":[
    {"Sid":"Enable decrypt from enclave","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::123456789012:role/lockout-instance"},
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab"}}}]})";
  auto r = LintKeyPolicy(policy);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->locked_to_enclave);
  EXPECT_EQ(r->verdict(), LintVerdict::kLocked);
  EXPECT_THAT(r->Text(), HasSubstr("nobody can change this policy"));
  EXPECT_THAT(r->Text(), HasSubstr("(kms:PutKeyPolicy):\n  nobody"));
}

TEST(PolicyLintTest, WarnsAboutADenyThatAndsSeveralNegatedPcrs) {
  const std::string policy = R"({"Statement":[
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/r"},
     "Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab",
                                            "kms:RecipientAttestation:PCR8":"cd"}}},
    {"Sid":"BadDeny","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"ab",
                                               "kms:RecipientAttestation:PCR8":"cd"}}}]})";
  auto r = LintKeyPolicy(policy);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->Text(), HasSubstr("\"BadDeny\" negates 2 attestation keys"));
  EXPECT_EQ(r->pinned.at("kms:RecipientAttestation:PCR8"), "cd");
}

TEST(PolicyLintTest, AnyoneWithoutConditionIsFlagged) {
  auto r = LintKeyPolicy(
      R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->locked_to_enclave);
  EXPECT_TRUE(Find(*r, "another AWS account")->decrypt_without_attestation);
  EXPECT_THAT(r->Text(), HasSubstr("allows ANYONE"));
}

TEST(PolicyLintTest, RejectsWhatKmsWouldRejectWithTheReason) {
  for (const char* bad : {"", "[]", "{}", "not json", R"({"Statement":[]})",
                          R"({"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*",
                              "Resource":"*"}]})"}) {
    auto r = LintKeyPolicy(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("not a key policy KMS would accept"));
  }
}

TEST(PolicyLintTest, JsonReportCarriesTheSameAnswers) {
  auto r = LintKeyPolicy(PolicyText(PolicyMode::kRecommended));
  ASSERT_TRUE(r.ok());
  nlohmann::ordered_json j = r->ToJson();
  EXPECT_EQ(j["locked_to_enclave"], true);
  EXPECT_EQ(j["verdict"], "locked");
  EXPECT_EQ(j["subjects"].size(), r->subjects.size());
  EXPECT_THAT(j.dump(), Not(HasSubstr("\"decrypt_without_attestation\":true")));
}

}  // namespace
}  // namespace lockout::ops
