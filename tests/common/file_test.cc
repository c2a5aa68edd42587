#include "src/common/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"

namespace lockout {
namespace {

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path() / "lockout-file-test-XXXXXX";
  return mkdtemp(tmpl.data());
}

TEST(FileTest, AtomicWriteThenRead) {
  std::string dir = TempDir();
  std::string path = dir + "/state.json";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("first")).ok());
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("second")).ok());
  auto s = ReadFileString(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "second");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(dir);
}

TEST(FileTest, ReadRefusesOversizedFiles) {
  std::string dir = TempDir();
  std::string path = dir + "/big";
  ASSERT_TRUE(WriteFileAtomic(path, Bytes(100, 'x')).ok());
  EXPECT_FALSE(ReadFile(path, 99).ok());
  EXPECT_TRUE(ReadFile(path, 100).ok());
  std::filesystem::remove_all(dir);
}

TEST(FileTest, MissingFileIsNotFound) {
  auto r = ReadFile("/nonexistent/lockout/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lockout
