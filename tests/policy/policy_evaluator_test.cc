#include "src/policy/policy_evaluator.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/policy/policy.h"

namespace lockout::policy {
namespace {

using ::testing::HasSubstr;

constexpr char kAccount[] = "111122223333";
constexpr char kOtherAccount[] = "444455556666";
constexpr char kKeyArn[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
constexpr char kRoleArn[] = "arn:aws:iam::111122223333:role/enclave-role";
constexpr char kSessionArn[] = "arn:aws:sts::111122223333:assumed-role/enclave-role/i-0123";
constexpr char kAdminArn[] = "arn:aws:iam::111122223333:user/lockout-admin";
constexpr char kForeignUserArn[] = "arn:aws:iam::444455556666:user/partner";
constexpr char kImageKey[] = "kms:RecipientAttestation:ImageSha384";
// The example PCR0 of the seed tutorial (README step 9).
constexpr char kPcr0[] =
    "d425a8dddca64416b9bd2b1a352978198ee2cf2adfea7b899c3b91b441988ce40c867ed6f6234b8de88ec254d40c4b"
    "ca";
constexpr char kPcr0Upper[] =
    "D425A8DDDCA64416B9BD2B1A352978198EE2CF2ADFEA7B899C3B91B441988CE40C867ED6F6234B8DE88EC254D40C4B"
    "CA";
constexpr char kDebugPcr0[] =
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00";

enum class Who {
  kRoot,          // account root of kAccount
  kAdmin,         // IAM user lockout-admin; identity policy: kms:* on *
  kInstance,      // session i-0123 of enclave-role; identity policy: the seed's (kms:Encrypt, ...)
  kOtherSession,  // session i-9999 of enclave-role
  kOtherRole,     // session of role other-role, no identity policy
  kForeignRoot,   // account root of kOtherAccount
  kForeignUser,   // IAM user partner in kOtherAccount, no identity policy unless the row says
};

Principal MakePrincipal(Who who) {
  switch (who) {
    case Who::kRoot:
      return *Principal::AccountRoot(kAccount);
    case Who::kAdmin:
      return *Principal::User(kAccount, "lockout-admin");
    case Who::kInstance:
      return *Principal::AssumedRole(kRoleArn, "i-0123");
    case Who::kOtherSession:
      return *Principal::AssumedRole(kRoleArn, "i-9999");
    case Who::kOtherRole:
      return *Principal::AssumedRole("arn:aws:iam::111122223333:role/other-role", "s");
    case Who::kForeignRoot:
      return *Principal::AccountRoot(kOtherAccount);
    case Who::kForeignUser:
      return *Principal::User(kOtherAccount, "partner");
  }
  return {};
}

constexpr char kAdminIdentity[] =
    R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kms:*",
        "Resource": "*"}})";
// The seed tutorial's IAM policy for the instance role (README step 6).
constexpr char kSeedInstanceIdentity[] =
    R"({"Version": "2012-10-17", "Statement": [{"Sid": "Statement1", "Effect": "Allow",
        "Action": ["kms:Encrypt", "secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"],
        "Resource": ["*"]}]})";

std::vector<std::string> DefaultIdentity(Who who) {
  switch (who) {
    case Who::kAdmin:
      return {kAdminIdentity};
    case Who::kInstance:
    case Who::kOtherSession:
      return {kSeedInstanceIdentity};
    default:
      return {};
  }
}

// Wraps statements (a JSON array body) into a policy document.
std::string Doc(const std::string& statements) {
  return R"({"Version": "2012-10-17", "Statement": [)" + statements + "]}";
}

// An Allow of kms:Decrypt for the enclave role with the given Condition block (JSON object).
std::string AllowDecryptIf(const std::string& condition) {
  return Doc(R"({"Sid": "Cond", "Effect": "Allow", "Principal": {"AWS": ")" +
             std::string(kRoleArn) +
             R"("}, "Action": "kms:Decrypt", "Resource": "*", "Condition": )" + condition + "}");
}

constexpr char kAdminActions[] =
    R"(["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
        "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
        "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"])";

// The seed tutorial's end state (README step 9, ARCHITECTURE §6 --mode seed): the console's
// key-administrator and key-user statements with kms:Decrypt removed and the root statement
// deleted, plus the enclave statement.
std::string SeedPolicy() {
  return Doc(std::string(R"({"Sid": "Allow access for Key Administrators", "Effect": "Allow",
      "Principal": {"AWS": ")") +
             kAdminArn + R"("}, "Action": )" + kAdminActions +
             R"(, "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": ")" +
             kAdminArn +
             R"("}, "Action": ["kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                   "kms:DescribeKey"], "Resource": "*"},
    {"Sid": "Enable decrypt from enclave", "Effect": "Allow",
     "Principal": {"AWS": ")" +
             kRoleArn + R"("}, "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
             kPcr0 + R"("}}})");
}

// ARCHITECTURE §6 --mode recommended: an admin manages but cannot decrypt; the instance role
// encrypts; decrypt is explicitly denied to everyone unless the attested PCR0 matches.
std::string RecommendedPolicy() {
  return Doc(std::string(R"({"Sid": "KeyAdministration", "Effect": "Allow",
      "Principal": {"AWS": ")") +
             kAdminArn + R"("}, "Action": )" + kAdminActions +
             R"(, "Resource": "*"},
    {"Sid": "InstanceEncrypts", "Effect": "Allow", "Principal": {"AWS": ")" +
             kRoleArn +
             R"("}, "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"},
    {"Sid": "EnclaveDecrypts", "Effect": "Allow", "Principal": {"AWS": ")" +
             kRoleArn +
             R"("}, "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
             kPcr0 + R"("}}},
    {"Sid": "DenyDecryptUnlessAttested", "Effect": "Deny", "Principal": "*",
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringNotEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": ")" +
             kPcr0 + R"("}}})");
}

using Keys = std::vector<std::pair<std::string, std::string>>;

struct Row {
  Row(std::string name_in, std::string policy_in, Who who_in, std::string action_in, Keys keys_in,
      Outcome expected_in, std::optional<std::vector<std::string>> identity_in = std::nullopt)
      : name(std::move(name_in)),
        policy(std::move(policy_in)),
        who(who_in),
        action(std::move(action_in)),
        keys(std::move(keys_in)),
        expected(expected_in),
        identity(std::move(identity_in)) {}

  std::string name;
  std::string policy;
  Who who;
  std::string action;
  Keys keys;  // request condition keys (repeat a key for a multi-valued one)
  Outcome expected;
  std::optional<std::vector<std::string>> identity;  // overrides DefaultIdentity(who)
  std::string resource = kKeyArn;
};

std::string Principal1(const std::string& principal, const std::string& action,
                       const std::string& effect = "Allow", const std::string& resource = "\"*\"") {
  return R"({"Effect": ")" + effect + R"(", "Principal": )" + principal + R"(, "Action": )" +
         action + R"(, "Resource": )" + resource + "}";
}
std::string Aws(const std::string& arn) { return R"({"AWS": ")" + arn + R"("})"; }
std::string Q(const std::string& s) { return "\"" + s + "\""; }

constexpr Outcome kAllow = Outcome::kAllow;
constexpr Outcome kDeny = Outcome::kExplicitDeny;
constexpr Outcome kImplicit = Outcome::kImplicitDeny;

std::vector<Row> TruthTable() {
  const std::string role = Aws(kRoleArn);
  const std::string decrypt = Q("kms:Decrypt");
  const std::string allow_role_decrypt = Doc(Principal1(role, decrypt));
  const std::string account_all =
      Doc(Principal1(Aws("arn:aws:iam::111122223333:root"), Q("kms:*")));
  const Keys attested = {{kImageKey, kPcr0}};
  std::vector<Row> rows = {
      // ---- Effect ----------------------------------------------------------------------------
      {"AllowOfMatchingRequestAllows",
       allow_role_decrypt,
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"NoMatchingStatementIsImplicitDeny",
       allow_role_decrypt,
       Who::kInstance,
       "kms:Encrypt",
       {},
       kImplicit},
      {"DenyOverridesAllow",
       Doc(Principal1(role, decrypt) + "," + Principal1(role, decrypt, "Deny")),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny},
      {"DenyOverridesAllowWhateverTheOrder",
       Doc(Principal1(role, decrypt, "Deny") + "," + Principal1(Q("*"), Q("kms:*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny},
      {"DenyForAnotherPrincipalDoesNotApply",
       Doc(Principal1(Aws(kAdminArn), decrypt, "Deny") + "," + Principal1(role, decrypt)),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      // ---- Action ----------------------------------------------------------------------------
      {"ActionNamesAreCaseInsensitive",
       Doc(Principal1(role, Q("KMS:dEcRyPt"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"RequestActionCaseDoesNotMatter",
       allow_role_decrypt,
       Who::kInstance,
       "KMS:DECRYPT",
       {},
       kAllow},
      {"ActionStarWildcardMatchesService",
       Doc(Principal1(role, Q("kms:*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ActionPrefixWildcardMatches",
       Doc(Principal1(role, Q("kms:De*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ActionPrefixWildcardDoesNotMatchOtherActions",
       Doc(Principal1(role, Q("kms:De*"))),
       Who::kInstance,
       "kms:Encrypt",
       {},
       kImplicit},
      {"ActionQuestionMarkMatchesOneCharacter",
       Doc(Principal1(role, Q("kms:?ecrypt"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ActionQuestionMarkDoesNotMatchTwoCharacters",
       Doc(Principal1(role, Q("kms:?crypt"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ActionOfAnotherServiceDoesNotMatch",
       Doc(Principal1(role, Q("secretsmanager:*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ActionListIsOred",
       Doc(Principal1(role, R"(["kms:Encrypt", "kms:Decrypt"])")),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"NotActionExcludesTheListedAction",
       Doc(R"({"Effect": "Allow", "Principal": )" + role +
           R"(, "NotAction": "kms:Decrypt", "Resource": "*"})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"NotActionCoversOtherActions",
       Doc(R"({"Effect": "Allow", "Principal": )" + role +
           R"(, "NotAction": "kms:Decrypt", "Resource": "*"})"),
       Who::kInstance,
       "kms:Encrypt",
       {},
       kAllow},
      // ---- Resource --------------------------------------------------------------------------
      {"ResourceExactKeyArnMatches",
       Doc(Principal1(role, decrypt, "Allow", Q(kKeyArn))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ResourceOtherKeyDoesNotMatch",
       Doc(Principal1(
           role, decrypt, "Allow",
           Q("arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ResourceWildcardMatches",
       Doc(Principal1(role, decrypt, "Allow", Q("arn:aws:kms:*:111122223333:key/*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ResourceIsCaseSensitive",
       Doc(Principal1(role, decrypt, "Allow", Q("arn:aws:kms:*:111122223333:KEY/*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"NotResourceExcludesTheKey",
       Doc(R"({"Effect": "Allow", "Principal": )" + role +
           R"(, "Action": "kms:Decrypt", "NotResource": ")" + kKeyArn + R"("})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      // ---- Principal -------------------------------------------------------------------------
      {"PrincipalStarMatchesAnyone",
       Doc(Principal1(Q("*"), decrypt)),
       Who::kAdmin,
       "kms:Decrypt",
       {},
       kAllow},
      {"PrincipalAwsStarMatchesAnyone",
       Doc(Principal1(Aws("*"), decrypt)),
       Who::kOtherRole,
       "kms:Decrypt",
       {},
       kAllow},
      {"RoleArnMatchesEverySessionOfTheRole",
       allow_role_decrypt,
       Who::kOtherSession,
       "kms:Decrypt",
       {},
       kAllow},
      {"SessionArnMatchesThatSession",
       Doc(Principal1(Aws(kSessionArn), decrypt)),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"SessionArnDoesNotMatchAnotherSession",
       Doc(Principal1(Aws(kSessionArn), decrypt)),
       Who::kOtherSession,
       "kms:Decrypt",
       {},
       kImplicit},
      {"RoleArnDoesNotMatchAnotherRole",
       allow_role_decrypt,
       Who::kOtherRole,
       "kms:Decrypt",
       {},
       kImplicit},
      {"RoleArnDoesNotMatchTheAccountRoot",
       allow_role_decrypt,
       Who::kRoot,
       "kms:Decrypt",
       {},
       kImplicit},
      {"UserArnMatchesTheUser",
       Doc(Principal1(Aws(kAdminArn), decrypt)),
       Who::kAdmin,
       "kms:Decrypt",
       {},
       kAllow},
      {"ServicePrincipalMatchesNoIamCaller",
       Doc(Principal1(R"({"Service": "ec2.amazonaws.com"})", Q("kms:*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"AccountRootArnAllowsTheRoot", account_all, Who::kRoot, "kms:Decrypt", {}, kAllow},
      {"BareAccountIdAllowsTheRoot",
       Doc(Principal1(Aws(kAccount), Q("kms:*"))),
       Who::kRoot,
       "kms:PutKeyPolicy",
       {},
       kAllow},
      {"AccountPrincipalDelegatesToAnIdentityPolicyThatAllows",
       account_all,
       Who::kAdmin,
       "kms:Decrypt",
       {},
       kAllow},
      {"AccountPrincipalWithoutIdentityAllowIsImplicitDeny",
       account_all,
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"AccountPrincipalWithIdentityAllowOfThatAction",
       account_all,
       Who::kInstance,
       "kms:Encrypt",
       {},
       kAllow},
      {"AccountPrincipalWithNoIdentityPolicyIsImplicitDeny",
       account_all,
       Who::kOtherRole,
       "kms:Encrypt",
       {},
       kImplicit},
      {"IdentityPolicyResourceMustMatchTheKey",
       account_all,
       Who::kInstance,
       "kms:Encrypt",
       {},
       kImplicit,
       std::vector<std::string>{
           R"({"Statement": {"Effect": "Allow", "Action": "kms:*",
               "Resource": "arn:aws:kms:us-east-1:111122223333:key/other"}})"}},
      {"IdentityPolicyAllowAloneIsNotEnough",
       Doc(Principal1(Aws(kAdminArn), Q("kms:*"))),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit,
       std::vector<std::string>{kAdminIdentity}},
      {"IdentityPolicyDenyOverridesADirectKeyPolicyAllow",
       allow_role_decrypt,
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny,
       std::vector<std::string>{
           kSeedInstanceIdentity,
           R"({"Statement": {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}})"}},
      {"RootIgnoresIdentityPolicies",
       account_all,
       Who::kRoot,
       "kms:Decrypt",
       {},
       kAllow,
       std::vector<std::string>{
           R"({"Statement": {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}})"}},
      {"OurAccountPrincipalDoesNotMatchAnotherAccountRoot",
       account_all,
       Who::kForeignRoot,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ForeignAccountPrincipalAllowsThatAccountRoot",
       Doc(Principal1(Aws(kOtherAccount), Q("kms:*"))),
       Who::kForeignRoot,
       "kms:Decrypt",
       {},
       kAllow},
      {"CrossAccountUserNamedDirectlyStillNeedsAnIdentityPolicy",
       Doc(Principal1(Aws(kForeignUserArn), decrypt)),
       Who::kForeignUser,
       "kms:Decrypt",
       {},
       kImplicit},
      {"CrossAccountUserNamedDirectlyWithIdentityPolicyAllows",
       Doc(Principal1(Aws(kForeignUserArn), decrypt)),
       Who::kForeignUser,
       "kms:Decrypt",
       {},
       kAllow,
       std::vector<std::string>{kAdminIdentity}},
      {"DenyToTheAccountDeniesEveryoneInIt",
       Doc(Principal1(Q("*"), Q("kms:*")) + "," +
           Principal1(Aws("arn:aws:iam::111122223333:root"), decrypt, "Deny")),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny},
      {"DenyToTheAccountLeavesOtherAccountsAlone",
       Doc(Principal1(Q("*"), Q("kms:*")) + "," +
           Principal1(Aws("arn:aws:iam::111122223333:root"), decrypt, "Deny")),
       Who::kForeignRoot,
       "kms:Decrypt",
       {},
       kAllow},
      {"NotPrincipalDenyExemptsTheListedRole",
       Doc(Principal1(Q("*"), Q("kms:*")) + "," + R"({"Effect": "Deny", "NotPrincipal": )" + role +
           R"(, "Action": "kms:Decrypt", "Resource": "*"})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"NotPrincipalDenyDeniesEveryoneElse",
       Doc(Principal1(Q("*"), Q("kms:*")) + "," + R"({"Effect": "Deny", "NotPrincipal": )" + role +
           R"(, "Action": "kms:Decrypt", "Resource": "*"})"),
       Who::kAdmin,
       "kms:Decrypt",
       {},
       kDeny},
      // ---- StringEquals / StringNotEquals ------------------------------------------------------
      {"StringEqualsMatches",
       AllowDecryptIf(R"({"StringEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kAllow},
      {"StringEqualsValuesAreCaseSensitive",
       AllowDecryptIf(R"({"StringEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "ABC"}},
       kImplicit},
      {"StringEqualsDoesNotTakeWildcards",
       AllowDecryptIf(R"({"StringEquals": {"k": "a*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kImplicit},
      {"ConditionKeyNamesAreCaseInsensitive",
       AllowDecryptIf(R"({"StringEquals": {"KMS:recipientattestation:IMAGESHA384": ")" +
                      std::string(kPcr0) + R"("}})"),
       Who::kInstance, "kms:Decrypt", attested, kAllow},
      {"StringEqualsWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"StringEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ConditionValuesAreOred",
       AllowDecryptIf(R"({"StringEquals": {"k": ["x", "abc"]}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kAllow},
      {"ConditionKeysAreAnded",
       AllowDecryptIf(R"({"StringEquals": {"a": "1", "b": "2"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"a", "1"}, {"b", "3"}},
       kImplicit},
      {"ConditionKeysAllMatching",
       AllowDecryptIf(R"({"StringEquals": {"a": "1", "b": "2"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"a", "1"}, {"b", "2"}},
       kAllow},
      {"ConditionOperatorsAreAnded",
       AllowDecryptIf(R"({"StringEquals": {"a": "1"}, "StringLike": {"b": "x*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"a", "1"}, {"b", "yz"}},
       kImplicit},
      {"StringNotEqualsOfAnotherValueIsTrue",
       AllowDecryptIf(R"({"StringNotEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abd"}},
       kAllow},
      {"StringNotEqualsOfTheSameValueIsFalse",
       AllowDecryptIf(R"({"StringNotEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kImplicit},
      {"StringNotEqualsIsCaseSensitive",
       AllowDecryptIf(R"({"StringNotEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "ABC"}},
       kAllow},
      {"StringNotEqualsWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"StringNotEquals": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"StringNotEqualsOfAListMeansNoneOfThem",
       AllowDecryptIf(R"({"StringNotEquals": {"k": ["a", "b"]}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "b"}},
       kImplicit},
      // ---- ...IgnoreCase ---------------------------------------------------------------------
      {"StringEqualsIgnoreCaseMatchesOtherCase",
       AllowDecryptIf(R"({"StringEqualsIgnoreCase": {"k": "AbC"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "aBc"}},
       kAllow},
      {"StringEqualsIgnoreCaseDifferentValue",
       AllowDecryptIf(R"({"StringEqualsIgnoreCase": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abd"}},
       kImplicit},
      {"StringEqualsIgnoreCaseWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"StringEqualsIgnoreCase": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"StringNotEqualsIgnoreCaseOfOtherCaseIsFalse",
       AllowDecryptIf(R"({"StringNotEqualsIgnoreCase": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "ABC"}},
       kImplicit},
      {"StringNotEqualsIgnoreCaseOfAnotherValueIsTrue",
       AllowDecryptIf(R"({"StringNotEqualsIgnoreCase": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "xyz"}},
       kAllow},
      {"StringNotEqualsIgnoreCaseWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"StringNotEqualsIgnoreCase": {"k": "abc"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      // ---- StringLike / StringNotLike -----------------------------------------------------------
      {"StringLikeStarMatchesARun",
       AllowDecryptIf(R"({"StringLike": {"k": "ab*f"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abcdef"}},
       kAllow},
      {"StringLikeStarMatchesNothing",
       AllowDecryptIf(R"({"StringLike": {"k": "ab*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "ab"}},
       kAllow},
      {"StringLikeQuestionMarkMatchesOneCharacter",
       AllowDecryptIf(R"({"StringLike": {"k": "a?c"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kAllow},
      {"StringLikeQuestionMarkNeedsACharacter",
       AllowDecryptIf(R"({"StringLike": {"k": "a?c"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "ac"}},
       kImplicit},
      {"StringLikeIsCaseSensitive",
       AllowDecryptIf(R"({"StringLike": {"k": "AB*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abcdef"}},
       kImplicit},
      {"StringLikeWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"StringLike": {"k": "*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"StringNotLikeOfAMatchIsFalse",
       AllowDecryptIf(R"({"StringNotLike": {"k": "ab*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "abc"}},
       kImplicit},
      {"StringNotLikeOfANonMatchIsTrue",
       AllowDecryptIf(R"({"StringNotLike": {"k": "ab*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "xbc"}},
       kAllow},
      {"StringNotLikeWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"StringNotLike": {"k": "ab*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      // ---- Arn* -----------------------------------------------------------------------------
      {"ArnLikeMatchesPrincipalArnOfASessionAsTheRoleArn",
       AllowDecryptIf(
           R"({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/enclave-*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ArnLikeWildcardResourceComponent",
       AllowDecryptIf(R"({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ArnLikeNeedsAllSixComponents",
       AllowDecryptIf(R"({"ArnLike": {"aws:PrincipalArn": "arn:aws:*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ArnLikeIsCaseSensitive",
       AllowDecryptIf(
           R"({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ENCLAVE-*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ArnEqualsExactArn",
       AllowDecryptIf(R"({"ArnEquals": {"aws:PrincipalArn": ")" + std::string(kRoleArn) + R"("}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ArnEqualsOtherArn",
       AllowDecryptIf(R"({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/x"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ArnNotEqualsOtherArnIsTrue",
       AllowDecryptIf(
           R"({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/x"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ArnNotLikeOfAMatchIsFalse",
       AllowDecryptIf(
           R"({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ArnNotLikeWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"ArnNotLike": {"aws:SourceArn": "arn:aws:ec2:*:*:*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ArnLikeWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:*:*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ArnLikeOfANonArnValueIsFalse",
       AllowDecryptIf(R"({"ArnLike": {"aws:SourceArn": "*"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"aws:SourceArn", "not-an-arn"}},
       kImplicit},
      // ---- Bool / Null -------------------------------------------------------------------------
      {"BoolTrueMatchesTrue",
       AllowDecryptIf(R"({"Bool": {"aws:SecureTransport": "true"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"aws:SecureTransport", "true"}},
       kAllow},
      {"BoolValuesIgnoreCase",
       AllowDecryptIf(R"({"Bool": {"aws:SecureTransport": true}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"aws:SecureTransport", "TRUE"}},
       kAllow},
      {"BoolTrueDoesNotMatchFalse",
       AllowDecryptIf(R"({"Bool": {"aws:SecureTransport": "true"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"aws:SecureTransport", "false"}},
       kImplicit},
      {"BoolWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"Bool": {"aws:SecureTransport": "false"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"NullTrueHoldsForAnAbsentKey",
       AllowDecryptIf(R"({"Null": {"k": "true"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"NullTrueFailsForAPresentKey",
       AllowDecryptIf(R"({"Null": {"k": "true"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "v"}},
       kImplicit},
      {"NullFalseHoldsForAPresentKey",
       AllowDecryptIf(R"({"Null": {"k": false}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "v"}},
       kAllow},
      {"NullFalseFailsForAnAbsentKey",
       AllowDecryptIf(R"({"Null": {"k": "false"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      // ---- ...IfExists -------------------------------------------------------------------------
      {"IfExistsWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"StringEqualsIfExists": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"IfExistsWithMatchingKey",
       AllowDecryptIf(R"({"StringEqualsIfExists": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}},
       kAllow},
      {"IfExistsWithMismatchingKey",
       AllowDecryptIf(R"({"StringEqualsIfExists": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "b"}},
       kImplicit},
      {"NegatedIfExistsWithPresentMatchingKeyIsFalse",
       AllowDecryptIf(R"({"StringNotEqualsIfExists": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}},
       kImplicit},
      {"DenyWithNegatedIfExistsFiresOnMissingKey",
       Doc(Principal1(role, decrypt) + "," +
           R"({"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
               "Condition": {"StringNotEqualsIfExists": {"k": "a"}}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny},
      // ---- ForAnyValue / ForAllValues ----------------------------------------------------------
      {"ForAnyValueMatchesWhenOneValueMatches",
       AllowDecryptIf(R"({"ForAnyValue:StringEquals": {"k": "b"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kAllow},
      {"ForAnyValueWithMissingKeyIsFalse",
       AllowDecryptIf(R"({"ForAnyValue:StringEquals": {"k": "b"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"ForAllValuesMatchesWhenEveryValueIsListed",
       AllowDecryptIf(R"({"ForAllValues:StringEquals": {"k": ["a", "b", "c"]}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kAllow},
      {"ForAllValuesFailsWhenOneValueIsNotListed",
       AllowDecryptIf(R"({"ForAllValues:StringEquals": {"k": ["a", "c"]}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kImplicit},
      {"ForAllValuesWithMissingKeyIsTrue",
       AllowDecryptIf(R"({"ForAllValues:StringEquals": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"ForAnyValueNegatedHoldsIfSomeValueDiffers",
       AllowDecryptIf(R"({"ForAnyValue:StringNotEquals": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kAllow},
      {"ForAllValuesNegatedFailsIfSomeValueIsListed",
       AllowDecryptIf(R"({"ForAllValues:StringNotEquals": {"k": "a"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kImplicit},
      {"PlainOperatorOnMultiValuedKeyMatchesAnyValue",
       AllowDecryptIf(R"({"StringEquals": {"k": "b"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kAllow},
      {"PlainNegatedOperatorOnMultiValuedKeyNeedsEveryValueToDiffer",
       AllowDecryptIf(R"({"StringNotEquals": {"k": "b"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {{"k", "a"}, {"k", "b"}},
       kImplicit},
      // ---- derived keys ------------------------------------------------------------------------
      {"CallerAccountIsDerivedFromThePrincipal",
       AllowDecryptIf(R"({"StringEquals": {"kms:CallerAccount": "111122223333"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kAllow},
      {"PrincipalAccountIsDerivedFromThePrincipal",
       AllowDecryptIf(R"({"StringEquals": {"aws:PrincipalAccount": "444455556666"}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"PrincipalArnOfASessionIsNotTheSessionArn",
       AllowDecryptIf(R"({"StringEquals": {"aws:PrincipalArn": ")" + std::string(kSessionArn) +
                      R"("}})"),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      // ---- the seed tutorial's end state -----------------------------------------------------
      {"SeedRootCannotDecrypt", SeedPolicy(), Who::kRoot, "kms:Decrypt", {}, kImplicit},
      {"SeedRootCannotDecryptEvenWithAttestation", SeedPolicy(), Who::kRoot, "kms:Decrypt",
       attested, kImplicit},
      {"SeedRootCannotChangeThePolicy",
       SeedPolicy(),
       Who::kRoot,
       "kms:PutKeyPolicy",
       {},
       kImplicit},
      {"SeedAdminCannotDecrypt", SeedPolicy(), Who::kAdmin, "kms:Decrypt", attested, kImplicit},
      {"SeedAdminCanChangeThePolicy", SeedPolicy(), Who::kAdmin, "kms:PutKeyPolicy", {}, kAllow},
      {"SeedAdminCanEncrypt", SeedPolicy(), Who::kAdmin, "kms:Encrypt", {}, kAllow},
      {"SeedInstanceWithoutAttestationCannotDecrypt",
       SeedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kImplicit},
      {"SeedInstanceWithAttestedPcr0Decrypts", SeedPolicy(), Who::kInstance, "kms:Decrypt",
       attested, kAllow},
      {"SeedInstanceWithUpperCasePcr0Decrypts",
       SeedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {{kImageKey, kPcr0Upper}},
       kAllow},
      {"SeedInstanceWithAnotherPcr0CannotDecrypt",
       SeedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {{kImageKey, kDebugPcr0}},
       kImplicit},
      {"SeedInstanceWithPcr0UnderAnotherKeyCannotDecrypt",
       SeedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {{"kms:RecipientAttestation:PCR0", kPcr0}},
       kImplicit},
      // ---- the recommended policy ------------------------------------------------------------
      {"RecommendedRootDecryptIsExplicitlyDenied",
       RecommendedPolicy(),
       Who::kRoot,
       "kms:Decrypt",
       {},
       kDeny},
      {"RecommendedRootWithAttestationIsStillNotAllowed", RecommendedPolicy(), Who::kRoot,
       "kms:Decrypt", attested, kImplicit},
      {"RecommendedRootCannotChangeThePolicy",
       RecommendedPolicy(),
       Who::kRoot,
       "kms:PutKeyPolicy",
       {},
       kImplicit},
      {"RecommendedAdminDecryptIsExplicitlyDenied",
       RecommendedPolicy(),
       Who::kAdmin,
       "kms:Decrypt",
       {},
       kDeny},
      {"RecommendedAdminWithAttestationIsStillNotAllowed", RecommendedPolicy(), Who::kAdmin,
       "kms:Decrypt", attested, kImplicit},
      {"RecommendedAdminCanChangeThePolicy",
       RecommendedPolicy(),
       Who::kAdmin,
       "kms:PutKeyPolicy",
       {},
       kAllow},
      {"RecommendedAdminCanScheduleDeletion",
       RecommendedPolicy(),
       Who::kAdmin,
       "kms:ScheduleKeyDeletion",
       {},
       kAllow},
      {"RecommendedAdminCannotEncrypt",
       RecommendedPolicy(),
       Who::kAdmin,
       "kms:Encrypt",
       {},
       kImplicit},
      {"RecommendedInstanceWithoutAttestationIsExplicitlyDenied",
       RecommendedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {},
       kDeny},
      {"RecommendedInstanceWithAttestedPcr0Decrypts", RecommendedPolicy(), Who::kInstance,
       "kms:Decrypt", attested, kAllow},
      {"RecommendedInstanceWithUpperCasePcr0Decrypts",
       RecommendedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {{kImageKey, kPcr0Upper}},
       kAllow},
      {"RecommendedInstanceWithDebugPcr0IsExplicitlyDenied",
       RecommendedPolicy(),
       Who::kInstance,
       "kms:Decrypt",
       {{kImageKey, kDebugPcr0}},
       kDeny},
      {"RecommendedOtherRoleWithAttestedPcr0IsNotAllowed", RecommendedPolicy(), Who::kOtherRole,
       "kms:Decrypt", attested, kImplicit},
      {"RecommendedInstanceCanEncrypt",
       RecommendedPolicy(),
       Who::kInstance,
       "kms:Encrypt",
       {},
       kAllow},
      {"RecommendedInstanceCannotChangeThePolicy",
       RecommendedPolicy(),
       Who::kInstance,
       "kms:PutKeyPolicy",
       {},
       kImplicit},
  };
  return rows;
}

RequestContext MakeRequest(const Row& row, std::vector<Policy>& identity_storage) {
  RequestContext request;
  request.principal = MakePrincipal(row.who);
  request.action = row.action;
  request.resource = row.resource;
  for (const auto& [key, value] : row.keys) request.keys.Add(key, value);
  identity_storage.clear();
  for (const std::string& text : row.identity.value_or(DefaultIdentity(row.who))) {
    auto policy = Policy::Parse(text, PolicyKind::kIdentityPolicy);
    EXPECT_TRUE(policy.ok()) << policy.status();
    if (policy.ok()) identity_storage.push_back(*std::move(policy));
  }
  request.identity_policies = identity_storage;
  return request;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAllow:
      return "Allow";
    case Outcome::kExplicitDeny:
      return "ExplicitDeny";
    case Outcome::kImplicitDeny:
      return "ImplicitDeny";
  }
  return "?";
}

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

class PolicyTruthTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(PolicyTruthTableTest, DecidesAsAwsDoes) {
  const Row& row = GetParam();
  auto policy = Policy::Parse(row.policy, PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status() << "\n" << row.policy;
  std::vector<Policy> identity;
  RequestContext request = MakeRequest(row, identity);
  Decision d = Evaluate(*policy, request);
  EXPECT_EQ(OutcomeName(d.outcome), std::string(OutcomeName(row.expected)))
      << "reason: " << d.reason << "\npolicy: " << row.policy;
  EXPECT_FALSE(d.reason.empty());
  if (d.outcome == Outcome::kImplicitDeny) {
    // The kind of policy whose Allow was missing: the identity policy exactly when the key
    // policy allows the caller's account (or names a caller of another account); AWS's
    // AccessDenied message says which.
    EXPECT_NE(d.source, DecisionSource::kKeyPolicy);
    EXPECT_EQ(d.source == DecisionSource::kIdentityPolicy,
              d.reason.find("no identity policy allows") != std::string::npos)
        << d.reason;
  } else {
    EXPECT_NE(d.source, DecisionSource::kNone);
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, PolicyTruthTableTest, ::testing::ValuesIn(TruthTable()),
                         [](const ::testing::TestParamInfo<Row>& row) { return row.param.name; });

// ---- decisions name their statement -------------------------------------------------------------

TEST(PolicyEvaluatorTest, ExplicitDenyNamesTheDenyingStatement) {
  auto policy = Policy::Parse(RecommendedPolicy(), PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok());
  RequestContext request;
  request.principal = MakePrincipal(Who::kInstance);
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  Decision d = Evaluate(*policy, request);
  EXPECT_EQ(d.outcome, Outcome::kExplicitDeny);
  EXPECT_EQ(d.source, DecisionSource::kKeyPolicy);
  EXPECT_EQ(d.statement_index, 3u);
  EXPECT_EQ(d.sid, "DenyDecryptUnlessAttested");
}

TEST(PolicyEvaluatorTest, AllowNamesTheGrantingStatement) {
  auto policy = Policy::Parse(RecommendedPolicy(), PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok());
  RequestContext request;
  request.principal = MakePrincipal(Who::kInstance);
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  request.keys.Add(kImageKey, kPcr0);
  Decision d = Evaluate(*policy, request);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.statement_index, 2u);
  EXPECT_EQ(d.sid, "EnclaveDecrypts");
}

TEST(PolicyEvaluatorTest, DelegatedAllowNamesTheIdentityStatementToo) {
  auto policy = Policy::Parse(*DefaultKeyPolicy(kAccount), PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok());
  std::vector<Policy> identity = {
      *Policy::Parse(kSeedInstanceIdentity, PolicyKind::kIdentityPolicy)};
  RequestContext request;
  request.principal = MakePrincipal(Who::kInstance);
  request.action = "kms:Encrypt";
  request.resource = kKeyArn;
  request.identity_policies = identity;
  Decision d = Evaluate(*policy, request);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.sid, "Enable IAM User Permissions");
  EXPECT_EQ(d.identity_sid, "Statement1");
  request.action = "kms:Decrypt";
  d = Evaluate(*policy, request);
  EXPECT_EQ(d.outcome, Outcome::kImplicitDeny);
  EXPECT_THAT(d.reason, HasSubstr("no identity policy allows"));
}

TEST(PolicyEvaluatorTest, IdentityDenyNamesThePolicyAndStatement) {
  auto policy = Policy::Parse(*DefaultKeyPolicy(kAccount), PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok());
  std::vector<Policy> identity = {
      *Policy::Parse(kAdminIdentity, PolicyKind::kIdentityPolicy),
      *Policy::Parse(R"({"Statement": [{"Effect": "Allow", "Action": "kms:Encrypt",
                         "Resource": "*"}, {"Sid": "NoDecrypt", "Effect": "Deny",
                         "Action": "kms:Decrypt", "Resource": "*"}]})",
                     PolicyKind::kIdentityPolicy)};
  RequestContext request;
  request.principal = MakePrincipal(Who::kAdmin);
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  request.identity_policies = identity;
  Decision d = Evaluate(*policy, request);
  EXPECT_EQ(d.outcome, Outcome::kExplicitDeny);
  EXPECT_EQ(d.source, DecisionSource::kIdentityPolicy);
  EXPECT_EQ(d.policy_index, 1u);
  EXPECT_EQ(d.statement_index, 1u);
  EXPECT_EQ(d.sid, "NoDecrypt");
}

TEST(PolicyEvaluatorTest, PolicyOfTheWrongKindNeverAllows) {
  auto identity_as_key =
      Policy::Parse(R"({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})",
                    PolicyKind::kIdentityPolicy);
  ASSERT_TRUE(identity_as_key.ok());
  RequestContext request;
  request.principal = MakePrincipal(Who::kRoot);
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  EXPECT_EQ(Evaluate(*identity_as_key, request).outcome, Outcome::kImplicitDeny);

  auto key_policy = Policy::Parse(*DefaultKeyPolicy(kAccount), PolicyKind::kKeyPolicy);
  ASSERT_TRUE(key_policy.ok());
  std::vector<Policy> identity = {*key_policy};  // a key policy posing as an identity policy
  request.principal = MakePrincipal(Who::kAdmin);
  request.identity_policies = identity;
  EXPECT_EQ(Evaluate(*key_policy, request).outcome, Outcome::kImplicitDeny);
}

TEST(PolicyEvaluatorTest, CallerSuppliedPrincipalArnKeyWins) {
  auto policy = Policy::Parse(
      AllowDecryptIf(
          R"({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/x"}})"),
      PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok());
  RequestContext request;
  request.principal = MakePrincipal(Who::kInstance);
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  EXPECT_FALSE(Evaluate(*policy, request).allowed());
  request.keys.Set("AWS:PRINCIPALARN", "arn:aws:iam::111122223333:role/x");
  EXPECT_TRUE(Evaluate(*policy, request).allowed());
}

// ---- lock-out safety check
// -----------------------------------------------------------------------

RequestContext Caller(Who who, std::vector<Policy>& identity) {
  identity.clear();
  for (const std::string& text : DefaultIdentity(who)) {
    identity.push_back(*Policy::Parse(text, PolicyKind::kIdentityPolicy));
  }
  RequestContext request;
  request.principal = MakePrincipal(who);
  request.action = "kms:CreateKey";  // the check replaces it with kms:PutKeyPolicy
  request.resource = kKeyArn;
  request.identity_policies = identity;
  return request;
}

absl::Status Check(const std::string& policy_text, Who who) {
  auto policy = Policy::Parse(policy_text, PolicyKind::kKeyPolicy);
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (!policy.ok()) return policy.status();
  std::vector<Policy> identity;
  return CheckPolicyLockoutSafety(*policy, Caller(who, identity));
}

TEST(PolicyLockoutTest, DefaultPolicyIsSafeForTheRoot) {
  EXPECT_TRUE(Check(*DefaultKeyPolicy(kAccount), Who::kRoot).ok());
}

TEST(PolicyLockoutTest, DefaultPolicyIsSafeForAnAdminWhoseIdentityPolicyAllowsIt) {
  EXPECT_TRUE(Check(*DefaultKeyPolicy(kAccount), Who::kAdmin).ok());
}

TEST(PolicyLockoutTest, DefaultPolicyFailsForACallerWhoseIdentityPolicyDoesNotAllowIt) {
  absl::Status s = Check(*DefaultKeyPolicy(kAccount), Who::kInstance);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "The new key policy will not allow you to update the key policy in the future.");
}

TEST(PolicyLockoutTest, DefaultPolicyOfAnotherAccountFailsForOurRoot) {
  EXPECT_FALSE(Check(*DefaultKeyPolicy(kOtherAccount), Who::kRoot).ok());
}

TEST(PolicyLockoutTest, RecommendedPolicyIsSafeForTheAdminOnly) {
  EXPECT_TRUE(Check(RecommendedPolicy(), Who::kAdmin).ok());
  EXPECT_FALSE(Check(RecommendedPolicy(), Who::kRoot).ok());
  EXPECT_FALSE(Check(RecommendedPolicy(), Who::kInstance).ok());
}

TEST(PolicyLockoutTest, SeedPolicyFailsForTheRootThatRemovedItself) {
  EXPECT_FALSE(Check(SeedPolicy(), Who::kRoot).ok());
  EXPECT_TRUE(Check(SeedPolicy(), Who::kAdmin).ok());
}

TEST(PolicyLockoutTest, ADenyOfPutKeyPolicyLocksOutEvenTheRoot) {
  const std::string policy = Doc(
      R"({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*",
          "Resource": "*"},
         {"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"})");
  EXPECT_FALSE(Check(policy, Who::kRoot).ok());
}

TEST(PolicyLockoutTest, ConditionsOfTheCallersRequestCount) {
  const std::string policy = Doc(
      R"({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*",
          "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})");
  auto parsed = Policy::Parse(policy, PolicyKind::kKeyPolicy);
  ASSERT_TRUE(parsed.ok());
  std::vector<Policy> identity;
  RequestContext caller = Caller(Who::kRoot, identity);
  EXPECT_FALSE(CheckPolicyLockoutSafety(*parsed, caller).ok());
  caller.keys.Add("aws:MultiFactorAuthPresent", "true");
  EXPECT_TRUE(CheckPolicyLockoutSafety(*parsed, caller).ok());
}

// ---- principals and helpers
// ----------------------------------------------------------------------

TEST(PrincipalTest, FactoriesBuildAwsArns) {
  EXPECT_EQ(MakePrincipal(Who::kRoot).arn, "arn:aws:iam::111122223333:root");
  EXPECT_EQ(MakePrincipal(Who::kAdmin).arn, kAdminArn);
  Principal session = MakePrincipal(Who::kInstance);
  EXPECT_EQ(session.arn, kSessionArn);
  EXPECT_EQ(session.role_arn, kRoleArn);
  EXPECT_EQ(session.account, kAccount);
  auto with_path = Principal::AssumedRole("arn:aws:iam::111122223333:role/team/app/r1", "s1");
  ASSERT_TRUE(with_path.ok());
  EXPECT_EQ(with_path->arn, "arn:aws:sts::111122223333:assumed-role/r1/s1");
}

TEST(PrincipalTest, RoleWithPathMatchesItsFullRoleArn) {
  auto policy = Policy::Parse(
      Doc(R"({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/team/r1"},
              "Action": "kms:Decrypt", "Resource": "*"})"),
      PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  RequestContext request;
  request.principal = *Principal::AssumedRole("arn:aws:iam::111122223333:role/team/r1", "s");
  request.action = "kms:Decrypt";
  request.resource = kKeyArn;
  EXPECT_TRUE(Evaluate(*policy, request).allowed());
}

TEST(PrincipalTest, FactoriesRejectInvalidInput) {
  EXPECT_FALSE(Principal::AccountRoot("1234").ok());
  EXPECT_FALSE(Principal::User(kAccount, "").ok());
  EXPECT_FALSE(Principal::User(kAccount, "a:b").ok());
  EXPECT_FALSE(Principal::User(kAccount, "a*").ok());
  EXPECT_FALSE(Principal::User("x11122223333", "a").ok());
  EXPECT_FALSE(Principal::AssumedRole("arn:aws:iam::111122223333:user/u", "s").ok());
  EXPECT_FALSE(Principal::AssumedRole("arn:aws:iam::111122223333:role/", "s").ok());
  EXPECT_FALSE(Principal::AssumedRole("arn:aws:iam:us-east-1:111122223333:role/r", "s").ok());
  EXPECT_FALSE(Principal::AssumedRole(kRoleArn, "").ok());
  EXPECT_FALSE(Principal::AssumedRole(kRoleArn, "a/b").ok());
  EXPECT_FALSE(Principal::AssumedRole("role/r", "s").ok());
}

TEST(ConditionKeysTest, NamesAreCaseInsensitiveAndValuesAccumulate) {
  ConditionKeys keys;
  EXPECT_TRUE(keys.empty());
  keys.Add("kms:RecipientAttestation:PCR0", "a");
  keys.Add("KMS:recipientattestation:pcr0", "b");
  ASSERT_NE(keys.Find("kms:recipientAttestation:PCR0"), nullptr);
  EXPECT_EQ(*keys.Find("kms:recipientAttestation:PCR0"), (std::vector<std::string>{"a", "b"}));
  keys.Set("kms:RecipientAttestation:PCR0", "c");
  EXPECT_EQ(*keys.Find("kms:RecipientAttestation:PCR0"), std::vector<std::string>{"c"});
  keys.Erase("KMS:RECIPIENTATTESTATION:PCR0");
  EXPECT_EQ(keys.Find("kms:RecipientAttestation:PCR0"), nullptr);
}

TEST(WildcardMatchTest, MatchesLikeIam) {
  EXPECT_TRUE(WildcardMatch("", "", false));
  EXPECT_FALSE(WildcardMatch("", "a", false));
  EXPECT_TRUE(WildcardMatch("*", "", false));
  EXPECT_TRUE(WildcardMatch("*", "anything", false));
  EXPECT_TRUE(WildcardMatch("a*b*c", "a-x-b-y-c", false));
  EXPECT_FALSE(WildcardMatch("a*b*c", "a-x-c-y-b", false));
  EXPECT_TRUE(WildcardMatch("*ab", "aab", false));
  EXPECT_TRUE(WildcardMatch("a**b", "ab", false));
  EXPECT_TRUE(WildcardMatch("???", "abc", false));
  EXPECT_FALSE(WildcardMatch("???", "ab", false));
  EXPECT_FALSE(WildcardMatch("abc", "ABC", false));
  EXPECT_TRUE(WildcardMatch("abc", "ABC", true));
  EXPECT_TRUE(WildcardMatch("a*C", "AbbbC", true));
  // Backtracking over many stars stays correct on long inputs.
  EXPECT_FALSE(WildcardMatch("*a*a*a*a*a*a*a*a*b", std::string(4096, 'a'), false));
  EXPECT_TRUE(WildcardMatch("*a*a*a*a*a*a*a*a*b", std::string(4096, 'a') + "b", false));
}

TEST(ArnLikeMatchTest, MatchesComponentWise) {
  EXPECT_TRUE(ArnLikeMatch("arn:aws:iam::111122223333:role/*", kRoleArn));
  EXPECT_TRUE(ArnLikeMatch("arn:*:iam::*:role/enclave-?ole", kRoleArn));
  EXPECT_TRUE(ArnLikeMatch("*", kRoleArn));
  EXPECT_FALSE(ArnLikeMatch("*", "not an arn"));
  // A '*' in one component does not swallow the following ':'.
  EXPECT_FALSE(ArnLikeMatch("arn:aws:*:111122223333:role/enclave-role", kRoleArn));
  EXPECT_FALSE(ArnLikeMatch("arn:aws:sts::111122223333:role/*", kRoleArn));
  // The resource component keeps its own ':'.
  EXPECT_TRUE(
      ArnLikeMatch("arn:aws:logs:*:*:log-group:*", "arn:aws:logs:us-east-1:1:log-group:g:x"));
}

}  // namespace
}  // namespace lockout::policy
