#include "src/policy/policy.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAccount[] = "111122223333";

// A valid key policy with one statement of every shape the parser knows.
constexpr char kFullPolicy[] = R"({
  "Version": "2012-10-17",
  "Id": "key-consolepolicy-3",
  "Statement": [
    {"Sid": "Admin", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:user/lockout-admin", "111122223333"]},
     "Action": ["kms:Create*", "KMS:PutKeyPolicy"], "Resource": "*"},
    {"Sid": "Enclave", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:role/enclave-role"},
     "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": "AB01"},
                   "ForAnyValue:StringLikeIfExists": {"Aws:PrincipalTag/x": ["a*", true, 7]},
                   "Null": {"kms:RecipientAttestation:PCR8": false}}},
    {"Sid": "DenyAllButEnclave", "Effect": "Deny",
     "NotPrincipal": {"AWS": "arn:aws:sts::111122223333:assumed-role/enclave-role/i-1"},
     "NotAction": "kms:Describe*", "NotResource": "arn:aws:kms:*:111122223333:key/*"},
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "kms:Encrypt",
     "Resource": "*"}
  ]
})";

TEST(PolicyParseTest, ParsesEveryStatementShape) {
  auto policy = Policy::Parse(kFullPolicy, PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->version(), "2012-10-17");
  EXPECT_EQ(policy->id(), "key-consolepolicy-3");
  EXPECT_EQ(policy->text(), kFullPolicy);
  ASSERT_EQ(policy->statements().size(), 5u);

  const Statement& admin = policy->statements()[0];
  EXPECT_EQ(admin.sid, "Admin");
  EXPECT_EQ(admin.effect, Effect::kAllow);
  ASSERT_EQ(admin.principals.size(), 2u);
  EXPECT_EQ(admin.principals[0].kind, PrincipalPattern::Kind::kArn);
  EXPECT_EQ(admin.principals[1].kind, PrincipalPattern::Kind::kAccount);
  EXPECT_EQ(admin.principals[1].value, kAccount);
  EXPECT_THAT(admin.actions, ::testing::ElementsAre("kms:create*", "kms:putkeypolicy"));

  const Statement& enclave = policy->statements()[1];
  ASSERT_EQ(enclave.conditions.size(), 3u);
  EXPECT_EQ(enclave.conditions[0].op, ConditionOperator::kStringEqualsIgnoreCase);
  EXPECT_EQ(enclave.conditions[0].key, "kms:recipientattestation:imagesha384");
  EXPECT_EQ(enclave.conditions[0].values, std::vector<std::string>{"AB01"});  // value kept as is
  const Condition& tag = enclave.conditions[1];
  EXPECT_EQ(tag.set, SetQualifier::kForAnyValue);
  EXPECT_TRUE(tag.if_exists);
  EXPECT_EQ(tag.op, ConditionOperator::kStringLike);
  EXPECT_EQ(tag.key, "aws:principaltag/x");
  EXPECT_EQ(tag.values, (std::vector<std::string>{"a*", "true", "7"}));
  EXPECT_EQ(enclave.conditions[2].op, ConditionOperator::kNull);
  EXPECT_EQ(enclave.conditions[2].values, std::vector<std::string>{"false"});

  const Statement& deny = policy->statements()[2];
  EXPECT_EQ(deny.effect, Effect::kDeny);
  EXPECT_TRUE(deny.principals_negated);
  EXPECT_TRUE(deny.actions_negated);
  EXPECT_TRUE(deny.resources_negated);

  EXPECT_EQ(policy->statements()[3].principals[0].kind, PrincipalPattern::Kind::kAnyone);
  EXPECT_EQ(policy->statements()[4].principals[0].kind, PrincipalPattern::Kind::kService);
}

TEST(PolicyParseTest, AcceptsSingleStatementObjectAndMissingVersion) {
  auto policy = Policy::Parse(
      R"({"Statement": {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:*",
          "Resource": "*"}})",
      PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->version(), "");
  ASSERT_EQ(policy->statements().size(), 1u);
  EXPECT_EQ(policy->statements()[0].principals[0].kind, PrincipalPattern::Kind::kAnyone);
}

TEST(PolicyParseTest, RootArnAndBareAccountIdBothMeanTheAccount) {
  auto policy = Policy::Parse(
      R"({"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
          "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "111122223333"]}}})",
      PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  for (const PrincipalPattern& p : policy->statements()[0].principals) {
    EXPECT_EQ(p.kind, PrincipalPattern::Kind::kAccount);
    EXPECT_EQ(p.value, kAccount);
  }
}

TEST(PolicyParseTest, IdentityPolicyHasNoPrincipal) {
  auto policy = Policy::Parse(
      R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
          "Action": ["kms:Encrypt", "secretsmanager:GetSecretValue"], "Resource": ["*"]}]})",
      PolicyKind::kIdentityPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->kind(), PolicyKind::kIdentityPolicy);
  EXPECT_TRUE(policy->statements()[0].principals.empty());
}

TEST(PolicyParseTest, DefaultKeyPolicyIsTheAwsDefault) {
  auto text = DefaultKeyPolicy(kAccount);
  ASSERT_TRUE(text.ok());
  auto policy = Policy::Parse(*text, PolicyKind::kKeyPolicy);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->id(), "key-default-1");
  ASSERT_EQ(policy->statements().size(), 1u);
  const Statement& s = policy->statements()[0];
  EXPECT_EQ(s.sid, "Enable IAM User Permissions");
  EXPECT_EQ(s.effect, Effect::kAllow);
  ASSERT_EQ(s.principals.size(), 1u);
  EXPECT_EQ(s.principals[0].kind, PrincipalPattern::Kind::kAccount);
  EXPECT_EQ(s.principals[0].value, kAccount);
  EXPECT_EQ(s.actions, std::vector<std::string>{"kms:*"});
  EXPECT_EQ(s.resources, std::vector<std::string>{"*"});
  EXPECT_THAT(*text, HasSubstr("\"arn:aws:iam::111122223333:root\""));
}

TEST(PolicyParseTest, DefaultKeyPolicyRejectsInvalidAccount) {
  EXPECT_FALSE(DefaultKeyPolicy("11112222333").ok());
  EXPECT_FALSE(DefaultKeyPolicy("1111222233334").ok());
  EXPECT_FALSE(DefaultKeyPolicy("11112222333a").ok());
  EXPECT_FALSE(DefaultKeyPolicy("").ok());
}

TEST(PolicyParseTest, AcceptsPolicyOfExactlyTheSizeLimit) {
  std::string text =
      R"({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}})";
  text.append(kMaxPolicyBytes - text.size(), ' ');
  ASSERT_EQ(text.size(), kMaxPolicyBytes);
  EXPECT_TRUE(Policy::Parse(text, PolicyKind::kKeyPolicy).ok());
  text.push_back(' ');
  auto too_big = Policy::Parse(text, PolicyKind::kKeyPolicy);
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(std::string(too_big.status().message()), HasSubstr("32768"));
}

struct MalformedCase {
  const char* name;
  PolicyKind kind;
  std::string json;
  const char* message;  // expected substring of the error
};

// A statement body with `extra` spliced in, for compact negative cases.
std::string Stmt(const std::string& fields) {
  return R"({"Version": "2012-10-17", "Statement": [{)" + fields + "}]}";
}
constexpr char kOk[] = R"("Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", )";

std::vector<MalformedCase> MalformedCases() {
  const PolicyKind kKey = PolicyKind::kKeyPolicy;
  const PolicyKind kIdentity = PolicyKind::kIdentityPolicy;
  const std::string ok = kOk;
  return {
      {"Empty", kKey, "", "not valid JSON"},
      {"NotJson", kKey, "{Statement: []}", "not valid JSON"},
      {"TrailingGarbage", kKey, Stmt(ok + R"("Resource": "*")") + "x", "not valid JSON"},
      {"TopLevelArray", kKey, "[]", "must be a JSON object"},
      {"TopLevelString", kKey, "\"policy\"", "must be a JSON object"},
      {"MissingStatement", kKey, R"({"Version": "2012-10-17"})", "missing Statement"},
      {"EmptyStatementArray", kKey, R"({"Statement": []})", "must not be empty"},
      {"StatementIsString", kKey, R"({"Statement": "Allow"})", "object or an array"},
      {"StatementElementIsNumber", kKey, R"({"Statement": [1]})", "must be an object"},
      {"UnknownTopLevelField", kKey, R"({"Statements": []})", "unknown field \"Statements\""},
      {"UnknownVersion", kKey, R"({"Version": "2024-01-01", "Statement": []})", "Version"},
      {"VersionIsNumber", kKey, R"({"Version": 2012, "Statement": []})", "Version"},
      {"IdIsNumber", kKey, R"({"Id": 1, "Statement": []})", "Id: must be a string"},
      {"SidIsNumber", kKey, Stmt(ok + R"("Resource": "*", "Sid": 3)"), "Sid must be a string"},
      {"UnknownStatementField", kKey, Stmt(ok + R"("Resource": "*", "Conditions": {})"),
       "unknown field \"Conditions\""},
      {"MissingEffect", kKey, Stmt(R"("Principal": "*", "Action": "kms:*", "Resource": "*")"),
       "missing Effect"},
      {"LowerCaseEffect", kKey,
       Stmt(R"("Effect": "allow", "Principal": "*", "Action": "kms:*", "Resource": "*")"),
       "Effect must be"},
      {"EffectIsBoolean", kKey,
       Stmt(R"("Effect": true, "Principal": "*", "Action": "kms:*", "Resource": "*")"),
       "Effect must be"},
      {"MissingAction", kKey, Stmt(R"("Effect": "Allow", "Principal": "*", "Resource": "*")"),
       "needs Action or NotAction"},
      {"ActionAndNotAction", kKey, Stmt(ok + R"("NotAction": "kms:Encrypt", "Resource": "*")"),
       "both Action and NotAction"},
      {"ActionIsNumber", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": 1, "Resource": "*")"),
       "string or an array"},
      {"ActionIsEmptyArray", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": [], "Resource": "*")"),
       "empty array"},
      {"ActionArrayHoldsNumber", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", 2],
           "Resource": "*")"),
       "array elements must be strings"},
      {"ActionWithoutService", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": "Decrypt", "Resource": "*")"),
       "invalid action"},
      {"ActionWithoutName", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": "kms:", "Resource": "*")"),
       "invalid action"},
      {"ActionWithSpace", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "*", "Action": "kms:De crypt", "Resource": "*")"),
       "invalid action"},
      {"MissingResource", kKey, Stmt(R"("Effect": "Allow", "Principal": "*", "Action": "kms:*")"),
       "needs Resource or NotResource"},
      {"ResourceAndNotResource", kKey, Stmt(ok + R"("Resource": "*", "NotResource": "*")"),
       "both Resource and NotResource"},
      {"ResourceNotAnArn", kKey, Stmt(ok + R"("Resource": "key/1234")"), "invalid resource"},
      {"ResourceIsObject", kKey, Stmt(ok + R"("Resource": {"arn": "*"})"), "string or an array"},
      {"KeyPolicyWithoutPrincipal", kKey,
       Stmt(R"("Effect": "Allow", "Action": "kms:*", "Resource": "*")"),
       "needs Principal or NotPrincipal"},
      {"PrincipalAndNotPrincipal", kKey,
       Stmt(R"("Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "kms:*",
           "Resource": "*")"),
       "both Principal and NotPrincipal"},
      {"NotPrincipalWithAllow", kKey,
       Stmt(R"("Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:*",
           "Resource": "*")"),
       "NotPrincipal is only supported with Effect Deny"},
      {"PrincipalStringNotStar", kKey,
       Stmt(R"("Effect": "Allow", "Principal": "111122223333", "Action": "kms:*",
           "Resource": "*")"),
       "must be \"*\""},
      {"PrincipalEmptyObject", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {}, "Action": "kms:*", "Resource": "*")"),
       "non-empty object"},
      {"PrincipalIsArray", kKey,
       Stmt(R"("Effect": "Allow", "Principal": ["*"], "Action": "kms:*", "Resource": "*")"),
       "non-empty object"},
      {"PrincipalPartialWildcard", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"},
           "Action": "kms:*", "Resource": "*")"),
       "invalid AWS principal"},
      {"PrincipalShortAccount", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"AWS": "11112222333"}, "Action": "kms:*",
           "Resource": "*")"),
       "invalid AWS principal"},
      {"PrincipalArnWithRegion", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:us-east-1:111122223333:root"},
           "Action": "kms:*", "Resource": "*")"),
       "invalid AWS principal"},
      {"PrincipalGroupArn", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:group/g"},
           "Action": "kms:*", "Resource": "*")"),
       "invalid AWS principal"},
      {"PrincipalSessionWithoutSessionName", kKey, Stmt(R"("Effect": "Allow",
           "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/enclave-role"},
           "Action": "kms:*", "Resource": "*")"),
       "invalid AWS principal"},
      {"PrincipalAwsIsNumber", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"AWS": 111122223333}, "Action": "kms:*",
           "Resource": "*")"),
       "string or an array"},
      {"PrincipalFederated", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
           "Action": "kms:*", "Resource": "*")"),
       "unsupported principal type \"Federated\""},
      {"ServicePrincipalWildcard", kKey,
       Stmt(R"("Effect": "Allow", "Principal": {"Service": "*"}, "Action": "kms:*",
           "Resource": "*")"),
       "invalid service principal"},
      {"IdentityPolicyWithPrincipal", kIdentity, Stmt(ok + R"("Resource": "*")"),
       "must not name a Principal"},
      {"ConditionNotObject", kKey, Stmt(ok + R"("Resource": "*", "Condition": [])"),
       "Condition: must be a non-empty object"},
      {"ConditionEmpty", kKey, Stmt(ok + R"("Resource": "*", "Condition": {})"),
       "Condition: must be a non-empty object"},
      {"UnknownOperator", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEqual": {"k": "v"}})"),
       "unknown condition operator \"StringEqual\""},
      {"OperatorNameIsCaseSensitive", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"stringequals": {"k": "v"}})"),
       "unknown condition operator"},
      {"UnknownSetQualifier", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"ForSomeValues:StringEquals": {"k": "v"}})"),
       "unknown condition operator"},
      {"UnsupportedNumericOperator", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}})"),
       "unsupported condition operator"},
      {"UnsupportedIpOperator", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"NotIpAddressIfExists": {"k": "1"}})"),
       "unsupported condition operator"},
      {"NullIfExists", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"NullIfExists": {"k": "true"}})"),
       "Null takes no"},
      {"ForAnyValueNull", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"ForAnyValue:Null": {"k": "true"}})"),
       "Null takes no"},
      {"NullValueNotBoolean", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"Null": {"k": "maybe"}})"),
       "values must be \"true\" or \"false\""},
      {"BoolValueNotBoolean", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}})"),
       "values must be \"true\" or \"false\""},
      {"OperatorWithEmptyKeys", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {}})"),
       "non-empty object of condition keys"},
      {"OperatorWithArrayOfKeys", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": ["k"]})"),
       "non-empty object of condition keys"},
      {"EmptyConditionKey", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"": "v"}})"),
       "invalid condition key name"},
      {"ConditionValueObject", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": {"v": 1}}})"),
       "condition values must be"},
      {"ConditionValueNull", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": null}})"),
       "condition values must be"},
      {"ConditionValueFloat", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": 1.5}})"),
       "condition values must be"},
      {"ConditionValueNestedArray", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": [["v"]]}})"),
       "condition values must be"},
      {"ConditionValuesEmptyArray", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": []}})"),
       "must not be an empty array"},
      {"DuplicateEffect", kKey,
       Stmt(R"("Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "kms:*",
           "Resource": "*")"),
       "duplicate key"},
      {"DuplicateConditionKey", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": "a", "k": "b"}})"),
       "duplicate key"},
      {"DuplicateTopLevelStatement", kKey,
       R"({"Statement": [], "Statement": {"Effect": "Allow", "Principal": "*",
           "Action": "kms:*", "Resource": "*"}})",
       "duplicate key"},
      {"NestedTooDeeply", kKey,
       Stmt(ok + R"("Resource": "*", "Condition": {"StringEquals": {"k": )" + std::string(20, '[') +
            "\"v\"" + std::string(20, ']') + "}}"),
       "nested too deeply"},
      {"InvalidUtf8InString", kKey, Stmt(ok + "\"Resource\": \"arn:\xff\""), "not valid JSON"},
  };
}

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

class MalformedPolicyTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedPolicyTest, IsRejectedWithAClearMessage) {
  const MalformedCase& c = GetParam();
  auto policy = Policy::Parse(c.json, c.kind);
  ASSERT_FALSE(policy.ok()) << "accepted: " << c.json;
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("malformed policy"));
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr(c.message));
}

INSTANTIATE_TEST_SUITE_P(Cases, MalformedPolicyTest, ::testing::ValuesIn(MalformedCases()),
                         [](const ::testing::TestParamInfo<MalformedCase>& row) {
                           return std::string(row.param.name);
                         });

TEST(PolicyParseTest, ErrorNamesTheStatementAndItsSid) {
  auto policy = Policy::Parse(
      R"({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
          {"Sid": "Second", "Effect": "Allow", "Principal": "*", "Action": "kms:*"}]})",
      PolicyKind::kKeyPolicy);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("statement 1 (Sid \"Second\")"));
}

TEST(PolicyParseTest, ErrorsDoNotEchoLongOrUnprintableInput) {
  const std::string long_name(1000, 'Q');
  auto policy =
      Policy::Parse(Stmt(std::string(kOk) + "\"Resource\": \"*\", \"" + long_name + "\": 1"),
                    PolicyKind::kKeyPolicy);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("<1000 chars>"));
  EXPECT_THAT(std::string(policy.status().message()), Not(HasSubstr("QQQQ")));

  auto control = Policy::Parse(Stmt(std::string(kOk) + "\"Resource\": \"*\", \"a\\u0001b\": 1"),
                               PolicyKind::kKeyPolicy);
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(std::string(control.status().message()), HasSubstr("<unprintable>"));

  // JSON syntax errors give an offset, not the text around it.
  auto syntax = Policy::Parse(R"({"Statement": SECRETISH})", PolicyKind::kKeyPolicy);
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(std::string(syntax.status().message()), HasSubstr("byte"));
  EXPECT_THAT(std::string(syntax.status().message()), Not(HasSubstr("SECRETISH")));
}

TEST(PolicyParseTest, EveryTruncationIsRejected) {
  const std::string text = kFullPolicy;
  for (size_t len = 0; len < text.size(); ++len) {
    EXPECT_FALSE(Policy::Parse(text.substr(0, len), PolicyKind::kKeyPolicy).ok())
        << "prefix of " << len << " bytes accepted";
  }
}

// Regression (found by fuzzing): nlohmann ends its input at a NUL byte, so a policy followed by
// "\0" and anything else (here a second document whose Deny would be dropped unread) was
// accepted as the text before the NUL, and GetKeyPolicy returned bytes that were never checked.
TEST(PolicyParseTest, RejectsANulByteAnywhere) {
  const std::string text = kFullPolicy;
  ASSERT_TRUE(Policy::Parse(text, PolicyKind::kKeyPolicy).ok());
  const std::string tails[] = {std::string(1, '\0'), std::string("\0garbage", 8),
                               std::string("\0{\"Statement\": []}", 18)};
  for (const std::string& tail : tails) {
    auto policy = Policy::Parse(text + tail, PolicyKind::kKeyPolicy);
    ASSERT_FALSE(policy.ok()) << "accepted a policy followed by a NUL byte";
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr("NUL byte"));
  }
  std::string inside = text;
  inside.insert(inside.find("Statement"), 1, '\0');
  EXPECT_FALSE(Policy::Parse(inside, PolicyKind::kKeyPolicy).ok());
  EXPECT_FALSE(Policy::Parse(text + std::string(1, '\0'), PolicyKind::kIdentityPolicy).ok());
}

TEST(PolicyParseTest, BitFlipsInTheDenyEffectAreNeverMisread) {
  // A Deny that a corrupted byte turns into anything else must be rejected, never read as a
  // policy without that Deny.
  const std::string text =
      R"({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
          {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]})";
  const size_t start = text.find(R"("Effect": "Deny")");
  ASSERT_NE(start, std::string::npos);
  const size_t end = start + std::string(R"("Effect": "Deny")").size();
  for (size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto policy = Policy::Parse(flipped, PolicyKind::kKeyPolicy);
      if (i >= start && i < end) {
        EXPECT_FALSE(policy.ok()) << "flip of bit " << bit << " at byte " << i << " accepted";
      } else if (policy.ok()) {
        // Whatever survives is a structurally valid policy.
        EXPECT_FALSE(policy->statements().empty());
      }
    }
  }
}

}  // namespace
}  // namespace lockout::policy
