#include "src/image/cpio_writer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/image/image_test_util.h"

namespace lockout::image {
namespace {

using ::testing::HasSubstr;
using testutil::CpioEntry;
using testutil::ReadNewc;

TEST(CpioWriterTest, WritesLinuxkitHeaderFieldsForEachKind) {
  CpioWriter w;
  ASSERT_TRUE(w.AddDirectory("d", 0755, 7).ok());
  ASSERT_TRUE(w.AddFile("d/f", 0640, 0, ToBytes("hello")).ok());
  ASSERT_TRUE(w.AddSymlink("d/l", "/target", 0777, 9).ok());
  const Bytes archive = std::move(w).Finish();
  size_t end = 0;
  const std::vector<CpioEntry> e = ReadNewc(archive, &end);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].name, "d");
  EXPECT_EQ(e[0].mode, 040755u);
  EXPECT_EQ(e[0].nlink, 2u);
  EXPECT_EQ(e[0].mtime, 7u);
  EXPECT_EQ(e[1].mode, 0100640u);
  EXPECT_EQ(e[1].nlink, 1u);
  EXPECT_EQ(e[1].data, "hello");
  EXPECT_EQ(e[2].mode, 0120777u);
  EXPECT_EQ(e[2].data, "/target");
  EXPECT_EQ(e[3].name, "TRAILER!!!");
  EXPECT_EQ(e[3].mode, 0u);
  EXPECT_EQ(e[3].mtime, 0u);
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i].ino, kFirstInode + i);
    EXPECT_EQ(e[i].uid, 0u);
    EXPECT_EQ(e[i].gid, 0u);
    EXPECT_EQ(e[i].devmajor, 3u);
    EXPECT_EQ(e[i].devminor, 1u);
    EXPECT_EQ(e[i].rdevmajor, 0u);
    EXPECT_EQ(e[i].rdevminor, 0u);
    EXPECT_EQ(e[i].check, 0u);
  }
  EXPECT_EQ(archive.size() % kArchiveBlock, 0u);
  for (size_t i = end; i < archive.size(); ++i) ASSERT_EQ(archive[i], 0) << i;
}

TEST(CpioWriterTest, PadsNameAndDataToFourBytes) {
  for (size_t name_len = 1; name_len <= 5; ++name_len) {
    for (size_t data_len = 0; data_len <= 5; ++data_len) {
      CpioWriter w;
      ASSERT_TRUE(w.AddFile(std::string(name_len, 'n'), 0644, 0, Bytes(data_len, 'x')).ok());
      const Bytes archive = std::move(w).Finish();
      const std::vector<CpioEntry> e = ReadNewc(archive);
      ASSERT_EQ(e.size(), 2u);
      EXPECT_EQ(e[0].data.size(), data_len);
      EXPECT_EQ(e[1].name, "TRAILER!!!");
      // 110 + name + NUL rounded up to 4, then data rounded up to 4.
      const size_t first = ((110 + name_len + 1 + 3) / 4 * 4) + (data_len + 3) / 4 * 4;
      EXPECT_EQ(std::string(archive.begin() + static_cast<long>(first),
                            archive.begin() + static_cast<long>(first + 6)),
                "070701");
    }
  }
}

TEST(CpioWriterTest, EmptyArchiveIsOnlyTheTrailerInOneBlock) {
  const Bytes archive = CpioWriter().Finish();
  ASSERT_EQ(archive.size(), kArchiveBlock);
  EXPECT_EQ(ReadNewc(archive).size(), 1u);
}

TEST(CpioWriterTest, RefusesNamesThatWouldCorruptTheArchive) {
  CpioWriter w;
  EXPECT_THAT(w.AddFile("", 0644, 0, {}).message(), HasSubstr("non-empty"));
  EXPECT_FALSE(w.AddFile(std::string("a\0b", 3), 0644, 0, {}).ok());
  // A member named like the trailer would end the archive for every reader.
  EXPECT_FALSE(w.AddFile("TRAILER!!!", 0644, 0, {}).ok());
  EXPECT_FALSE(w.AddDirectory("TRAILER!!!", 0755, 0).ok());
  EXPECT_EQ(ReadNewc(std::move(w).Finish()).size(), 1u);
}

TEST(CpioWriterTest, RefusesBadPermissionsAndEmptySymlinkTargets) {
  CpioWriter w;
  EXPECT_FALSE(w.AddFile("f", 010000, 0, {}).ok());
  EXPECT_FALSE(w.AddDirectory("d", 0100755, 0).ok());
  EXPECT_FALSE(w.AddSymlink("l", "", 0777, 0).ok());
  EXPECT_TRUE(w.AddFile("f", 07777, 0, {}).ok());
}

}  // namespace
}  // namespace lockout::image
