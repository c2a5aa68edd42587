#include "src/image/rootfs_tree.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file.h"
#include "tests/testing/temp_dir.h"

namespace lockout::image {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Paths(const RootfsTree& tree) {
  std::vector<std::string> out;
  for (const RootfsTree::Entry& e : tree.Entries()) {
    out.push_back(e.path + (e.is_directory ? "/" : ""));
  }
  return out;
}

TEST(RootfsTreeTest, ListsDepthFirstWithSortedChildrenWhateverTheInsertionOrder) {
  RootfsTree a;
  RootfsTree b;
  const std::vector<std::string> files = {"/z", "/etc2/b", "/etc/x", "/etc/a/b", "/a", "/etc.d/c"};
  for (const std::string& f : files) ASSERT_TRUE(a.AddFile(f, 0644, ToBytes(f)).ok());
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    ASSERT_TRUE(b.AddFile(*it, 0644, ToBytes(*it)).ok());
  }
  EXPECT_THAT(Paths(a), ElementsAre("a", "etc/", "etc/a/", "etc/a/b", "etc/x", "etc.d/", "etc.d/c",
                                    "etc2/", "etc2/b", "z"));
  EXPECT_EQ(Paths(a), Paths(b));
  EXPECT_EQ(a.FileCount(), 6u);
  EXPECT_TRUE(a.HasFile("/etc/x"));
  EXPECT_FALSE(a.HasFile("/etc"));
  EXPECT_TRUE(a.HasDirectory("/etc"));
}

TEST(RootfsTreeTest, RefusesNonCanonicalPaths) {
  RootfsTree t;
  for (const char* bad : {"", "/", "relative", "/a//b", "/a/./b", "/a/../b", "/a/", "/x\ny"}) {
    EXPECT_EQ(t.AddFile(bad, 0644, {}).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(t.AddFile(std::string("/a\0b", 4), 0644, {}).ok());
  EXPECT_FALSE(t.AddFile("/" + std::string(5000, 'a'), 0644, {}).ok());
}

TEST(RootfsTreeTest, RefusesPathsTheInitMountsOverOrLinuxkitWrites) {
  RootfsTree t;
  for (const char* bad : {"/dev/nsm", "/proc/x", "/sys/y", "/run/z", "/tmp/t", "/etc/hosts",
                          "/etc/mtab", "/etc/resolv.conf"}) {
    EXPECT_EQ(t.AddFile(bad, 0644, {}).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(t.AddFile("/etc/hosts.allow", 0644, {}).ok());
  EXPECT_TRUE(t.AddFile("/devices", 0644, {}).ok());
}

TEST(RootfsTreeTest, RefusesDuplicatesFilesUnderFilesAndSpecialBits) {
  RootfsTree t;
  ASSERT_TRUE(t.AddFile("/a", 0644, {}).ok());
  EXPECT_EQ(t.AddFile("/a", 0644, {}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(t.AddFile("/a/b", 0644, {}).message(), HasSubstr("is a file"));
  EXPECT_EQ(t.AddDirectory("/a").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(t.AddFile("/s", 04755, {}).ok());
  ASSERT_TRUE(t.AddDirectory("/d").ok());
  EXPECT_TRUE(t.AddDirectory("/d").ok());
  EXPECT_FALSE(t.AddFile("/d", 0644, {}).ok());
}

TEST(RootfsTreeTest, WritesTheTreeWithItsModesAndTimeZero) {
  testing::TempDir dir;
  RootfsTree t;
  ASSERT_TRUE(t.AddFile("/bin/tool", 0755, ToBytes("#!tool")).ok());
  ASSERT_TRUE(t.AddFile("/etc/conf", 0600, ToBytes("c")).ok());
  const mode_t old_umask = umask(077);
  absl::Status s = t.WriteToDirectory(dir.path());
  umask(old_umask);
  ASSERT_TRUE(s.ok()) << s;
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtime, 0);
  ASSERT_EQ(stat((dir.path() + "/etc/conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir.path() + "/bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtime, 0);
  EXPECT_EQ(*ReadFileString(dir.path() + "/bin/tool"), "#!tool");
  // Nothing is overwritten.
  EXPECT_FALSE(t.WriteToDirectory(dir.path()).ok());
  EXPECT_FALSE(t.WriteToDirectory(dir.path() + "/missing").ok());
}

}  // namespace
}  // namespace lockout::image
