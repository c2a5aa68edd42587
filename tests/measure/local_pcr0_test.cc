#include "src/measure/local_pcr0.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/bytes.h"

namespace lockout::measure {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "-" + std::to_string(::getpid());
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(LocalPcr0Test, IsExtendOfZeroWithTheFileHash) {
  const std::string content(300000, 'q');  // more than one read chunk would be at 64 KiB
  const std::string path = WriteTemp("pcr0-file", content);
  Bytes preimage(48, 0);
  const crypto::Sha384Digest file_hash = crypto::Sha384(AsBytes(content));
  preimage.insert(preimage.end(), file_hash.begin(), file_hash.end());
  absl::StatusOr<crypto::Sha384Digest> pcr0 = LocalPcr0OfFile(path);
  ASSERT_TRUE(pcr0.ok()) << pcr0.status();
  EXPECT_EQ(*pcr0, crypto::Sha384(preimage));
  EXPECT_EQ(*pcr0, LocalPcr0(file_hash));
  ::unlink(path.c_str());
}

TEST(LocalPcr0Test, HashingAnOpenFileLeavesItsOffsetAndCountsItsBytes) {
  const std::string path = WriteTemp("pcr0-offset", "abcdef");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 3, SEEK_SET), 3);
  absl::StatusOr<FileDigest> d = Sha384OfOpenFile(fd, "test file");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->size, 6u);
  EXPECT_EQ(d->sha384, crypto::Sha384(AsBytes(std::string_view("abcdef"))));
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 3);
  ::close(fd);
  ::unlink(path.c_str());
}

TEST(LocalPcr0Test, AMissingFileIsNotFoundNamingThePath) {
  absl::StatusOr<crypto::Sha384Digest> r = LocalPcr0OfFile("/nonexistent/lockout-enclave");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("/nonexistent/lockout-enclave"));
}

TEST(LocalPcr0Test, ADirectoryIsNotARegularFile) {
  const int fd = ::open("/", O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Sha384OfOpenFile(fd, "/").status().code(), absl::StatusCode::kFailedPrecondition);
  ::close(fd);
}

}  // namespace
}  // namespace lockout::measure
