// The pure grant rules (kms_grants.h): tokens, grantee matching, constraints.

#include "src/localaws/kms_grants.h"

#include <string>

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::localaws {
namespace {

policy::Principal Must(absl::StatusOr<policy::Principal> p) {
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

TEST(KmsGrantTokenTest, ATokenCarriesItsGrantIdAndIsFreshEachTime) {
  const std::string id = NewKmsGrantId();
  EXPECT_TRUE(IsKmsGrantId(id));
  EXPECT_NE(id, NewKmsGrantId());
  const std::string t1 = MakeKmsGrantToken(id);
  const std::string t2 = MakeKmsGrantToken(id);
  EXPECT_NE(t1, t2);
  EXPECT_EQ(KmsGrantIdFromToken(t1), id);
  EXPECT_EQ(KmsGrantIdFromToken(t2), id);
}

TEST(KmsGrantTokenTest, AnythingElseIsNotAToken) {
  const std::string good = MakeKmsGrantToken(NewKmsGrantId());
  auto raw = Base64Decode(good);
  ASSERT_TRUE(raw.ok());
  Bytes wrong_magic = *raw;
  wrong_magic[1] ^= 0x20;
  Bytes short_one(raw->begin(), raw->end() - 1);
  Bytes long_one = *raw;
  long_one.push_back(0);
  for (const std::string& bad :
       {std::string(), std::string("%%%%"), good.substr(0, good.size() - 4), good + "AAAA",
        Base64Encode(wrong_magic), Base64Encode(short_one), Base64Encode(long_one),
        std::string(9000, 'A'), Base64Encode(AsBytes("not a token"))}) {
    EXPECT_FALSE(KmsGrantIdFromToken(bad).has_value()) << bad;
  }
}

TEST(KmsGrantMatchTest, GranteesMatchTheCallerItsRoleOrItsAccount) {
  const policy::Principal root = Must(policy::Principal::AccountRoot("111122223333"));
  const policy::Principal user = Must(policy::Principal::User("111122223333", "admin"));
  const policy::Principal session =
      Must(policy::Principal::AssumedRole("arn:aws:iam::111122223333:role/app", "i-1"));
  EXPECT_EQ(MatchGrantee("arn:aws:iam::111122223333:user/admin", user), GranteeMatch::kDirect);
  EXPECT_EQ(MatchGrantee("arn:aws:iam::111122223333:user/other", user), GranteeMatch::kNone);
  EXPECT_EQ(MatchGrantee("arn:aws:iam::111122223333:role/app", session), GranteeMatch::kDirect);
  EXPECT_EQ(MatchGrantee(session.arn, session), GranteeMatch::kDirect);
  EXPECT_EQ(MatchGrantee("arn:aws:iam::111122223333:role/app", user), GranteeMatch::kNone);
  EXPECT_EQ(MatchGrantee("arn:aws:iam::111122223333:root", user), GranteeMatch::kAccount);
  EXPECT_EQ(MatchGrantee("111122223333", session), GranteeMatch::kAccount);
  EXPECT_EQ(MatchGrantee("111122223333", root), GranteeMatch::kDirect);
  EXPECT_EQ(MatchGrantee("arn:aws:iam::444455556666:root", user), GranteeMatch::kNone);
  EXPECT_EQ(MatchGrantee("ec2.amazonaws.com", root), GranteeMatch::kNone);
  EXPECT_EQ(MatchGrantee("", root), GranteeMatch::kNone);
  EXPECT_FALSE(PrincipalNamesCaller("arn:aws:iam::111122223333:root", user));
  EXPECT_TRUE(PrincipalNamesCaller("arn:aws:iam::111122223333:root", root));
}

TEST(KmsGrantMatchTest, ConstraintsAndNarrowing) {
  KmsGrant subset;
  subset.operations = {"Decrypt", "CreateGrant"};
  subset.constraint = KmsGrantConstraint::kEncryptionContextSubset;
  subset.constraint_context = {{"a", "1"}};
  KmsGrant equals = subset;
  equals.constraint = KmsGrantConstraint::kEncryptionContextEquals;
  const EncryptionContext exact = {{"a", "1"}};
  const EncryptionContext more = {{"a", "1"}, {"b", "2"}};
  const EncryptionContext upper = {{"A", "1"}};
  EXPECT_TRUE(KmsGrantConstraintAllows(subset, &exact));
  EXPECT_TRUE(KmsGrantConstraintAllows(subset, &more));
  EXPECT_FALSE(KmsGrantConstraintAllows(subset, &upper));
  EXPECT_TRUE(KmsGrantConstraintAllows(equals, &exact));
  EXPECT_FALSE(KmsGrantConstraintAllows(equals, &more));
  EXPECT_TRUE(KmsGrantConstraintAllows(equals, nullptr));  // no context: not constrained

  EXPECT_TRUE(
      KmsGrantIsNarrower(subset, {"Decrypt"}, KmsGrantConstraint::kEncryptionContextSubset, more));
  EXPECT_FALSE(KmsGrantIsNarrower(subset, {"Decrypt"}, KmsGrantConstraint::kNone, {}));
  EXPECT_FALSE(
      KmsGrantIsNarrower(subset, {"Encrypt"}, KmsGrantConstraint::kEncryptionContextSubset, exact));
  EXPECT_TRUE(
      KmsGrantIsNarrower(equals, {"Decrypt"}, KmsGrantConstraint::kEncryptionContextEquals, exact));
  EXPECT_FALSE(
      KmsGrantIsNarrower(equals, {"Decrypt"}, KmsGrantConstraint::kEncryptionContextSubset, exact));
}

}  // namespace
}  // namespace lockout::localaws
