#include "src/common/secret_bytes.h"

#include <sstream>

#include "gtest/gtest.h"
#include "tests/testing/memory_lock.h"

namespace lockout {
namespace {

TEST(SecretBytesTest, PrintsOnlyItsSize) {
  SecretBytes s = SecretBytes::CopyFrom(std::string_view("canary-secret-value"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "<secret:19B>");
  EXPECT_EQ(s.DebugString(), "<secret:19B>");
  EXPECT_EQ(os.str().find("canary"), std::string::npos);
}

TEST(SecretBytesTest, RevealGivesTheBytes) {
  SecretBytes s = SecretBytes::CopyFrom(Bytes{1, 2, 3});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.Reveal()[2], 3);
  EXPECT_EQ(s.RevealAsString(), std::string("\x01\x02\x03", 3));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::CopyFrom(std::string_view("abc"));
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_TRUE(a.Reveal().empty());
}

TEST(SecretBytesTest, ConstantTimeEquality) {
  auto a = SecretBytes::CopyFrom(std::string_view("same"));
  auto b = SecretBytes::CopyFrom(std::string_view("same"));
  auto c = SecretBytes::CopyFrom(std::string_view("diff"));
  auto d = SecretBytes::CopyFrom(std::string_view("longer"));
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(c));
  EXPECT_FALSE(a.Equals(d));
}

TEST(SecretBytesTest, ClearWipesAndEmpties) {
  auto s = SecretBytes::CopyFrom(std::string_view("abc"));
  s.Clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.DebugString(), "<secret:0B>");
}

TEST(SecretBytesTest, LockKeepsContentUsable) {
  auto s = SecretBytes::CopyFrom(std::string_view("locked key"));
  // mlock can be refused by RLIMIT_MEMLOCK; either way the bytes stay intact.
  bool locked = s.Lock();
  EXPECT_EQ(locked, s.locked());
  EXPECT_EQ(s.RevealAsString(), "locked key");
}

TEST(SecretBytesTest, LockSucceedsUnderANormalLimit) {
  // The default RLIMIT_MEMLOCK (64 KiB or more) or CAP_IPC_LOCK allows one page.
  auto s = SecretBytes::CopyFrom(std::string_view("locked key"));
  EXPECT_TRUE(s.Lock());
  EXPECT_TRUE(s.locked());
  SecretBytes moved = std::move(s);
  EXPECT_TRUE(moved.locked());
}

TEST(SecretBytesTest, LockReportsTheKernelsRefusal) {
  auto s = SecretBytes::CopyFrom(std::string_view("unlockable key"));
  {
    testing::ScopedMemoryLockDenied denied;
    ASSERT_TRUE(denied.ok()) << denied.why();
    // A real mlock(2) refusal, seen even under ASan (whose mlock wrapper always says yes).
    EXPECT_FALSE(s.Lock());
    EXPECT_FALSE(s.locked());
    EXPECT_EQ(s.RevealAsString(), "unlockable key");
  }
  EXPECT_TRUE(s.Lock());
  EXPECT_TRUE(s.locked());
}

TEST(SecretBytesTest, EmptySecretCountsAsLocked) {
  SecretBytes empty;
  EXPECT_TRUE(empty.Lock());
}

TEST(SecretBuilderTest, AppendsAcrossGrowth) {
  SecretBuilder b;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    const std::string piece = "piece-" + std::to_string(i) + ";";
    b.Append(piece);
    expected += piece;
  }
  b.Append(std::string_view());
  EXPECT_EQ(b.size(), expected.size());
  SecretBytes s = std::move(b).Finish();
  EXPECT_EQ(s.RevealAsString(), expected);
  EXPECT_EQ(s.size(), expected.size());
}

TEST(SecretBuilderTest, EmptyBuilderGivesEmptySecret) {
  SecretBuilder b;
  EXPECT_TRUE(std::move(b).Finish().empty());
}

TEST(SecretBytesTest, WipeHelpersClear) {
  std::string str = "password";
  WipeString(str);
  EXPECT_TRUE(str.empty());
  Bytes b = {1, 2, 3};
  WipeBytes(b);
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace lockout
