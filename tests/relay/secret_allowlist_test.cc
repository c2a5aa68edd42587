#include "src/relay/secret_allowlist.h"

#include "src/relay/relay_protocol.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::relay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(SecretAllowlistTest, AllowsExactlyTheListedNames) {
  absl::StatusOr<SecretAllowlist> list = SecretAllowlist::Create({"lockout/key", "secretlock"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->Allows("lockout/key"));
  EXPECT_TRUE(list->Allows("secretlock"));
  EXPECT_FALSE(list->Allows("lockout/key2"));
  EXPECT_FALSE(list->Allows("lockout/ke"));
  EXPECT_FALSE(list->Allows("Lockout/Key"));
  EXPECT_FALSE(list->Allows("lockout/*"));
  EXPECT_FALSE(list->Allows(""));
  EXPECT_FALSE(list->Allows(std::string_view("secretlock\0", 11)));
}

TEST(SecretAllowlistTest, ANameDoesNotMatchItsArnNorTheReverse) {
  const std::string arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lockout/key-AbCdEf";
  absl::StatusOr<SecretAllowlist> by_name = SecretAllowlist::Create({"lockout/key"});
  ASSERT_TRUE(by_name.ok());
  EXPECT_FALSE(by_name->Allows(arn));
  absl::StatusOr<SecretAllowlist> by_arn = SecretAllowlist::Create({arn});
  ASSERT_TRUE(by_arn.ok());
  EXPECT_TRUE(by_arn->Allows(arn));
  EXPECT_FALSE(by_arn->Allows("lockout/key"));
}

TEST(SecretAllowlistTest, EmptyListIsRefused) {
  absl::StatusOr<SecretAllowlist> list = SecretAllowlist::Create({});
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecretAllowlistTest, InvalidNameIsRefusedByIndexWithoutQuotingIt) {
  absl::StatusOr<SecretAllowlist> list = SecretAllowlist::Create({"ok", "has space"});
  ASSERT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("#2"));
  EXPECT_THAT(list.status().message(), Not(HasSubstr("has space")));
  EXPECT_FALSE(SecretAllowlist::Create({""}).ok());
  EXPECT_FALSE(SecretAllowlist::Create({std::string(kMaxSecretNameSize + 1, 'a')}).ok());
}

TEST(SecretAllowlistTest, DuplicatesAreKeptOnceAndSorted) {
  absl::StatusOr<SecretAllowlist> list = SecretAllowlist::Create({"b", "a", "b"});
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(list->names(), ElementsAre("a", "b"));
}

}  // namespace
}  // namespace lockout::relay
